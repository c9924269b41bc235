"""The per-clip compute report: tables, summary, plots and a page a person reads in a minute.

Written by ``tools/report.py``::

    OUT/clips.csv, clips.jsonl   one row per clip at the chosen budget
    OUT/summary.json             accuracy, GFLOPs statistics, anytime accuracy, budget curve, baseline
    OUT/budget_curve.png, exits.png, patch_heatmap.png, examples.png
    OUT/summary.md
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..compute.exits import fit_thresholds, simulate
from . import plots
from .clips import ClipTable


def budget_rows(held_out: ClipTable, table: ClipTable, budgets: list[float]) -> list[dict]:
    """Fit thresholds per budget on ``held_out``, apply them to ``table``."""
    rows = []
    for budget in budgets:
        plan = fit_thresholds(held_out.confidences, held_out.exit_costs, budget)
        result = simulate(table.confidences, table.correct, plan.thresholds, table.exit_costs)
        rows.append(dict(budget=budget, thresholds=plan.thresholds, top1=result['top1'],
                         mean_gflops=result['mean_gflops'], held_out_gflops=plan.expected_gflops,
                         exits=result['exits']))
    return rows


def default_budgets(exit_costs: list[float], n: int = 5) -> list[float]:
    """``n`` budgets spread between the first exit's cost and the last's."""
    return np.linspace(exit_costs[0], exit_costs[-1], n + 2)[1:-1].round(6).tolist()


def _stats(costs: np.ndarray) -> dict:
    return dict(mean_gflops=float(costs.mean()), median_gflops=float(np.median(costs)),
                p90_gflops=float(np.percentile(costs, 90)))


def write_report(out: Path, table: ClipTable, held_out: ClipTable, budgets: list[float], budget: float,
                 class_names: list[str], meta: dict, baseline: ClipTable | None = None,
                 load_frames: Callable[[int], np.ndarray] | None = None, num_examples: int = 4) -> dict:
    """Write every report file under ``out``; returns the summary dict.

    ``budget`` picks the operating point of the per-clip table. ``load_frames(i)`` returns
    clip ``i``'s sampled frames (uint8 ``[N, H, W, 3]``) for the example picture.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = budget_rows(held_out, table, sorted(set(budgets) | {budget}))
    point = next(r for r in rows if r['budget'] == budget)
    exits = point['exits']
    m = len(table.clip_ids)
    idx = np.arange(m)
    costs = np.asarray(table.exit_costs)[exits]
    preds = table.predictions[idx, exits]
    top5 = table.top5[idx, exits]

    clips = []
    for i in range(m):
        e = int(exits[i])
        looks = table.looks[i][:e] if table.looks else []
        clips.append(dict(clip_id=table.clip_ids[i], label=int(table.labels[i]), prediction=int(preds[i]),
                          label_name=_name(class_names, table.labels[i]), prediction_name=_name(class_names, preds[i]),
                          confidences=[round(float(c), 5) for c in table.confidences[i, :e + 1]],
                          exit=e, gflops=float(costs[i]),
                          frames=[f for look in looks for f in look['frames']],
                          boxes=[b for look in looks for b in look['boxes']]))
    with open(out / 'clips.jsonl', 'w') as f:
        for c in clips:
            f.write(json.dumps(c) + '\n')
    with open(out / 'clips.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(clips[0]))
        writer.writeheader()
        for c in clips:
            writer.writerow({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in c.items()})

    full_exit = len(table.exit_costs) - 1
    summary = dict(
        meta=meta, num_clips=m, exit_costs=table.exit_costs,
        anytime_top1=table.anytime_top1(),
        no_early_exit=dict(top1=float(table.correct[:, full_exit].mean() * 100),
                           top5=float((table.top5[:, full_exit] == table.labels[:, None]).any(1).mean() * 100),
                           mean_gflops=float(table.exit_costs[-1])),
        operating_point=dict(budget=budget, thresholds=point['thresholds'], top1=float((preds == table.labels).mean() * 100),
                             top5=float((top5 == table.labels[:, None]).any(1).mean() * 100),
                             exit_counts=np.bincount(exits, minlength=len(table.exit_costs)).tolist(), **_stats(costs)),
        budgets=[{k: v for k, v in r.items() if k != 'exits'} for r in rows],
    )
    if baseline is not None:
        summary['baseline'] = dict(top1=float(baseline.correct[:, 0].mean() * 100),
                                   top5=float((baseline.top5[:, 0] == baseline.labels[:, None]).any(1).mean() * 100),
                                   mean_gflops=float(baseline.exit_costs[0]))
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))

    plots.budget_curve(out / 'budget_curve.png', summary['budgets'],
                       list(zip(table.exit_costs, summary['anytime_top1'])), summary.get('baseline'))
    plots.exit_histogram(out / 'exits.png', exits, len(table.exit_costs))
    all_boxes = np.array([b for c in clips for b in c['boxes']], dtype=np.float64).reshape(-1, 4)
    frame_hw = meta.get('frame_hw', (0, 0))
    plots.patch_heatmap(out / 'patch_heatmap.png', all_boxes, frame_hw)
    if load_frames is not None and m:
        chosen = np.linspace(0, m - 1, min(num_examples, m)).astype(int)
        plots.example_clips(out / 'examples.png', [
            dict(frames=load_frames(int(i)), looks=table.looks[i][:int(exits[i])] if table.looks else [],
                 title=f"{clips[i]['clip_id']}: {clips[i]['label_name']} -> {clips[i]['prediction_name']} "
                       f"(exit {clips[i]['exit']}, {clips[i]['gflops']:.4f} GFLOPs)") for i in chosen])
    (out / 'summary.md').write_text(_markdown(summary))
    return summary


def _name(class_names: list[str], index) -> str:
    index = int(index)
    return class_names[index] if 0 <= index < len(class_names) else str(index)


def _markdown(s: dict) -> str:
    op, full = s['operating_point'], s['no_early_exit']
    lines = [
        f"# Compute report: {s['meta'].get('config', '')}",
        '',
        f"{s['num_clips']} clips of `{s['meta'].get('split', '')}`; checkpoint `{s['meta'].get('checkpoint', '')}`.",
        '',
        f"- **At a budget of {op['budget']:.4g} GFLOPs per clip**: top-1 {op['top1']:.1f}%, top-5 {op['top5']:.1f}%, "
        f"mean {op['mean_gflops']:.4g} GFLOPs (median {op['median_gflops']:.4g}, p90 {op['p90_gflops']:.4g}); "
        f"clips leaving at each exit: {op['exit_counts']}.",
        f"- **Without early exit**: top-1 {full['top1']:.1f}%, top-5 {full['top5']:.1f}%, {full['mean_gflops']:.4g} GFLOPs per clip.",
    ]
    if 'baseline' in s:
        b = s['baseline']
        lines.append(f"- **Static TSM baseline**: top-1 {b['top1']:.1f}%, top-5 {b['top5']:.1f}%, "
                     f"{b['mean_gflops']:.4g} GFLOPs per clip.")
    lines += ['', '| budget (GFLOPs) | top-1 % | mean GFLOPs | thresholds |', '|---|---|---|---|']
    for r in s['budgets']:
        lines.append(f"| {r['budget']:.4g} | {r['top1']:.1f} | {r['mean_gflops']:.4g} | "
                     f"{', '.join(f'{t:.3g}' for t in r['thresholds'])} |")
    lines += ['', 'Every clip forced to exit k (anytime accuracy):', '',
              '| exit | cumulative GFLOPs | top-1 % |', '|---|---|---|']
    for k, (c, a) in enumerate(zip(s['exit_costs'], s['anytime_top1'])):
        lines.append(f'| {k} | {c:.4g} | {a:.1f} |')
    lines += ['', 'Thresholds were fitted on the held-out split, never on the split reported here.', '',
              '![budget curve](budget_curve.png) ![exits](exits.png)', '',
              '![where the focus looked](patch_heatmap.png)', '', '![examples](examples.png)', '']
    return '\n'.join(lines)
