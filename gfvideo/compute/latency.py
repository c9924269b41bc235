"""Wall-clock time of a recognizer: per clip (``tools/report.py --latency``) and per component
(``benchmarks/latency.py``).

Model time only: the clip is already decoded, transformed and on the model's device; CUDA
is synchronised around each timed call. Times are in milliseconds.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Hashable, Iterator, Sequence

import numpy as np
import torch

from ..models.base import Recognizer
from .exit_scores import ExitRule


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def forced_exit(exit: int, num_exits: int) -> ExitRule:
    """The rule that sends every clip out at ``exit`` (max probability never reaches 2, always 0)."""
    return ExitRule([2.0] * exit + [0.0] * (num_exits - exit))


def timed_round_robin(fns: dict[Hashable, Callable[[], object]], device: str | torch.device, repeats: int,
                      warmup: int = 2) -> dict[Hashable, float]:
    """Median milliseconds of each ``fns[name]()`` after ``warmup`` calls, timed round-robin.

    One call of every function per round: a machine that speeds up or slows down during
    the run (shared or thermally throttled cores) shifts every function alike, not just the
    one timed last.
    """
    device = torch.device(device)
    times: dict[Hashable, list[float]] = {name: [] for name in fns}
    for i in range(warmup + repeats):
        for name, fn in fns.items():
            _sync(device)
            t = time.perf_counter()
            fn()
            _sync(device)
            if i >= warmup:
                times[name].append((time.perf_counter() - t) * 1e3)
    return {name: float(np.median(ts)) for name, ts in times.items()}


@torch.no_grad()
def time_clips(model: Recognizer, clips: Sequence[torch.Tensor], rules: dict[Hashable, ExitRule | None],
               warmup: int = 1) -> dict[Hashable, list[float]]:
    """Milliseconds per clip at batch 1 under each exit rule: ``{rule name: [ms of clip i]}``.

    ``clips``: model-ready ``[N, 3, H, W]`` tensors. Each clip runs once per rule, the rules
    round-robin per clip (so a drifting machine shifts every rule alike), after ``warmup``
    untimed runs of the first clip under every rule.
    """
    model.eval()
    device = next(model.parameters()).device
    out: dict[Hashable, list[float]] = {name: [] for name in rules}
    for _ in range(warmup):
        for rule in rules.values():
            model.run(clips[0][None].to(device), rule)
    for clip in clips:
        x = clip[None].to(device)
        for name, rule in rules.items():
            _sync(device)
            t = time.perf_counter()
            model.run(x, rule)
            _sync(device)
            out[name].append((time.perf_counter() - t) * 1e3)
    return out


COMPONENTS = ('glance', 'policy', 'crop', 'focus', 'aggregator', 'step overhead', 'other')


@contextmanager
def component_times(model: Recognizer) -> Iterator[list[dict]]:
    """Time a glance-and-focus model's parts while the block runs; yields a list that fills with
    one dict per ``model.run``: ms per component (:data:`COMPONENTS`) and per focus step.

    ``focus`` is the focus backbone, ``crop`` the rest of the focus call (cutting the patches),
    ``aggregator`` its glance ``init`` and every ``step`` (the GRU and the classifier), ``step
    overhead`` what a focus step spends outside its policy, focus and aggregator calls (the exit
    check, dropping rows that left, the loop), ``other`` the rest of the run. CPU timings (on
    CUDA the kernels run asynchronously: synchronise-free timings would be meaningless).
    """
    events: list[tuple[str, float, float, int]] = []   # (part, start, end, rows)
    runs: list[dict] = []

    def wrap(obj, attr: str, part: str):
        inner = getattr(obj, attr)

        def timed(*args, **kwargs):
            t = time.perf_counter()
            out = inner(*args, **kwargs)
            rows = next((a.shape[0] for a in args if isinstance(a, torch.Tensor)), 0)
            events.append((part, t, time.perf_counter(), rows))
            return out
        setattr(obj, attr, timed)
        return obj, attr

    def run(*args, **kwargs):
        events.clear()
        t = time.perf_counter()
        out = inner_run(*args, **kwargs)
        runs.append(_summarise(events, t, time.perf_counter()))
        return out

    inner_run = model.run
    wrapped = [wrap(model.glance, 'forward', 'glance'), wrap(model.policy, 'forward', 'policy'),
               wrap(model.focus, 'forward', 'focus call'), wrap(model.focus.backbone, 'forward', 'focus'),
               wrap(model.aggregator, 'init', 'aggregator init'), wrap(model.aggregator, 'step', 'aggregator')]
    model.run = run
    try:
        yield runs
    finally:
        del model.run
        for obj, attr in wrapped:
            delattr(obj, attr)


def _summarise(events: list[tuple[str, float, float, int]], start: float, end: float) -> dict:
    ms = defaultdict(float)
    steps = []
    step_start = None
    for part, t0, t1, rows in events:
        ms[part] += (t1 - t0) * 1e3
        if part == 'aggregator init':
            step_start = t1
        elif part == 'aggregator':   # a focus step ends with its aggregator step
            steps.append(dict(rows=rows, ms=(t1 - step_start) * 1e3))
            step_start = t1
    parts = dict(glance=ms['glance'], policy=ms['policy'], crop=ms['focus call'] - ms['focus'], focus=ms['focus'],
                 aggregator=ms['aggregator init'] + ms['aggregator'])
    in_steps = sum(s['ms'] for s in steps)
    parts['step overhead'] = in_steps - (ms['policy'] + ms['focus call'] + ms['aggregator'])
    parts['other'] = (end - start) * 1e3 - ms['glance'] - ms['aggregator init'] - in_steps
    return dict(total=(end - start) * 1e3, parts=parts, steps=steps)
