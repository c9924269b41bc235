"""Per-clip wall-clock time in the report (``tools/report.py --latency N``).

N clips of the reported split, spread over it, run one at a time (batch 1) through a fused
copy of the model (batch norm folded, CPU weights pre-packed: as ``tools/infer.py --fuse``
deploys it) under each exit rule of the report: every clip forced to each exit, and each
budget's fitted rule. Model time only (the clips are decoded and on the device first), on
the machine the report runs on. Accuracy and GFLOPs stay those of the whole split; the
latency is the mean over the timed clips.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Hashable

import numpy as np
import torch

from ..compute.exit_scores import ExitRule
from ..compute.latency import forced_exit, time_clips
from ..data import collate_clips
from ..models.base import Recognizer
from ..models.fuse import fuse_for_inference
from ..runtime import cpu_name
from .clips import ClipTable


@dataclass
class ClipClock:
    """Times a fused copy of a model on some clips of a report's table, at batch 1."""
    model: Recognizer
    clips: list[torch.Tensor]   # model-ready [N, 3, H, W], on the model's device
    rows: list[int]             # their rows in the ClipTable
    device: str

    @classmethod
    def build(cls, model: Recognizer, dataset, table: ClipTable, n: int) -> 'ClipClock':
        """``n`` clips of ``table`` (rows spread evenly over it), loaded from ``dataset`` as the
        report's evaluation loaded them."""
        rows = sorted({int(i) for i in np.linspace(0, len(table.clip_ids) - 1, min(n, len(table.clip_ids)))})
        fused = copy.deepcopy(model).eval()
        clips = [fused.data_preprocessor(collate_clips([dataset[table.indices[i]]]), False)['inputs'][0] for i in rows]
        fuse_for_inference(fused, lambda: fused.run(clips[0][None]))
        device = next(fused.parameters()).device
        name = torch.cuda.get_device_name(device) if device.type == 'cuda' else cpu_name()
        return cls(fused, clips, rows, f'{device.type} ({name})')

    def __call__(self, rules: dict[Hashable, ExitRule | None]) -> dict[Hashable, list[float]]:
        return time_clips(self.model, self.clips, rules)


def measure_latency(clock: ClipClock, table: ClipTable, budget_rows: list[dict], rules: list[ExitRule],
                    operating_budget: float, baseline: tuple[ClipClock, dict] | None = None) -> tuple[dict, dict]:
    """The summary's ``latency`` section and the operating point's ms per timed clip (``{row: ms}``).

    ``budget_rows``: the report's curve on this split (``budget``, ``top1``, ``mean_gflops``),
    with ``rules`` its exit rules; ``baseline``: a static model's clock and summary entry.
    """
    num_exits = len(table.exit_costs)
    named = {('exit', k): forced_exit(k, num_exits) for k in range(num_exits)}
    named.update({('budget', r['budget']): rule for r, rule in zip(budget_rows, rules)})
    ms = clock(named)
    anytime = table.anytime_top1()
    section = dict(
        clips=len(clock.rows), batch=1, fused=True, device=clock.device,
        exits=[dict(exit=k, gflops=float(table.exit_costs[k]), top1=float(anytime[k]),
                    mean_ms=float(np.mean(ms[('exit', k)]))) for k in range(num_exits)],
        budgets=[dict(budget=r['budget'], top1=r['top1'], mean_gflops=r['mean_gflops'],
                      mean_ms=float(np.mean(ms[('budget', r['budget'])]))) for r in budget_rows])
    if baseline is not None:
        base_clock, base = baseline
        section['baseline'] = dict(base, mean_ms=float(np.mean(base_clock({'static': None})['static'])))
    per_clip = dict(zip(clock.rows, ms[('budget', operating_budget)]))
    return section, per_clip


def markdown(latency: dict) -> list[str]:
    """The summary.md lines of the latency section."""
    lines = ['', f"Latency: {latency['clips']} clips one at a time (batch 1, fused, model time only) on "
             f"{latency['device']}; top-1 and GFLOPs over the whole split.", '',
             '| operating point | top-1 % | GFLOPs | mean ms |', '|---|---|---|---|']
    for e in latency['exits']:
        lines.append(f"| every clip to exit {e['exit']} | {e['top1']:.1f} | {e['gflops']:.4g} | {e['mean_ms']:.2f} |")
    for b in latency['budgets']:
        lines.append(f"| budget {b['budget']:.4g} | {b['top1']:.1f} | {b['mean_gflops']:.4g} | {b['mean_ms']:.2f} |")
    if 'baseline' in latency:
        b = latency['baseline']
        lines.append(f"| static baseline | {b['top1']:.1f} | {b['mean_gflops']:.4g} | {b['mean_ms']:.2f} |")
    return lines + ['', '![latency](latency_curve.png)']
