"""Wall-clock time per clip beside GFLOPs: does the saved compute turn into saved time?

In one run, on one machine, for static TSM-R50 8x224 and the glance-and-focus model
(MobileNetV2-TSM glance at 96, ResNet-50-TSM focus at patch 96/128/160, 8 frames in 2
steps) without exits and with exits at two budgets: the median time per clip after
warm-up, the measured GFLOPs per clip, and the time ratio to the static model beside the
FLOPs ratio (the yardstick: time ratio / FLOPs ratio; 1.0 means time follows FLOPs). CPU at
batch 1 and 16; CUDA at batch 1 and 64 when a GPU is present.

Exits: thresholds fitted (MSDNet procedure, ``gfvideo.compute.exits``) on the benchmark
batch's own confidences so that the mean cost meets the budget; the timed run then really
exits (rows leave the batch), and the GFLOPs column is the mean over the clips that ran.
The models are randomly initialised: the glance-and-focus models' batch-norm statistics
are set from the benchmark batch and the classifier's weights scaled up (x10), so that confidences spread
over the clips as a trained model's do; otherwise they are equal to 7 digits and float
jitter between runs decides the exits.

Both models run as an inference deployment would: conv weights channels-last, batch norm
and activations folded into the convs and, on CPU, weights pre-packed for oneDNN
(``gfvideo.models.fuse``; ``--no-fuse`` and ``--no-channels-last`` turn these off to show
what they buy). The models are timed round-robin (``timed``) so that a drifting machine
does not bias the ratios.

Usage: ``python benchmarks/latency.py [--repeats 5] [--batches 1 16] [--devices cpu cuda] [--quick] [--no-fuse]``
(``--quick``: tiny models at 64 px, a smoke run for CI).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Hashable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gfvideo.compute.exits import fit_thresholds  # noqa: E402
from gfvideo.models import GlanceFocusRecognizer, Recognizer, StaticTSM  # noqa: E402
from gfvideo.models.fuse import fuse_for_inference  # noqa: E402
from gfvideo.runtime import channels_last as to_channels_last, tune_malloc  # noqa: E402


def models(quick: bool) -> tuple[StaticTSM, dict[int, GlanceFocusRecognizer], int]:
    torch.manual_seed(0)
    if quick:
        size, patches = 64, (24, 32, 40)
        static = StaticTSM(num_classes=10, num_frames=8, input_size=size, backbone=dict(backbone='resnet50', width=8))
        gf = {p: GlanceFocusRecognizer(
            num_classes=10, num_frames=8, input_size=size, glance=dict(backbone='mobilenet_v2', size=32, width=0.25,
                                                                       last_channels=64),
            focus=dict(backbone='resnet50', patch=p, width=8), frames_per_step=4, aggregator=dict(hidden=32))
            for p in patches}
    else:
        size, patches = 224, (96, 128, 160)
        static = StaticTSM(num_classes=174, num_frames=8, input_size=size, backbone=dict(backbone='resnet50'))
        gf = {p: GlanceFocusRecognizer(
            num_classes=174, num_frames=8, input_size=size, glance=dict(backbone='mobilenet_v2', size=96),
            focus=dict(backbone='resnet50', patch=p), frames_per_step=4, aggregator=dict(hidden=1024))
            for p in patches}
    for m in gf.values():
        with torch.no_grad():
            m.aggregator.head.weight.mul_(10)
    return static.eval(), {p: m.eval() for p, m in gf.items()}, size


@torch.no_grad()
def calibrate(model: Recognizer, x: torch.Tensor) -> None:
    """Batch-norm statistics from one training-mode pass over ``x`` (see the module docstring)."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    model.run(x)
    model.eval()


def timed(fns: dict[Hashable, Callable[[], object]], device: str, repeats: int,
          warmup: int = 2) -> dict[Hashable, float]:
    """Median seconds of each ``fns[name]()`` after ``warmup`` calls, timed round-robin.

    One call of every function per round: a machine that speeds up or slows down during
    the run (shared or thermally throttled cores) shifts every model alike, not just the
    one timed last.
    """
    times: dict[Hashable, list[float]] = {name: [] for name in fns}
    for i in range(warmup + repeats):
        for name, fn in fns.items():
            if device == 'cuda':
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if device == 'cuda':
                torch.cuda.synchronize()
            if i >= warmup:
                times[name].append(time.perf_counter() - t)
    return {name: float(np.median(ts)) for name, ts in times.items()}


@torch.no_grad()
def measure(device: str, batch: int, repeats: int, quick: bool, channels_last: bool, fuse: bool) -> list[dict]:
    static, gf, size = models(quick)
    g = torch.Generator().manual_seed(0)
    # noise plus a per-clip colour cast, so clips differ after the glance's downsampling
    x = (torch.randn(batch, 8, 3, size, size, generator=g) + 2 * torch.randn(batch, 1, 3, 1, 1, generator=g)).to(device)

    def prepare(model: torch.nn.Module, example: Callable[[], object]) -> None:
        if channels_last:
            to_channels_last(model)
        if fuse:
            fuse_for_inference(model, example)

    static = static.to(device)
    base_gflops = static.gflops()
    prepare(static, lambda: static(x))
    rows = [dict(model='static TSM-R50 8x' + str(size), exits='-', gflops=base_gflops, fn=lambda: static(x))]
    for patch, model in gf.items():
        model = model.to(device)
        calibrate(model, x)
        costs = model.exit_costs()
        prepare(model, lambda: model.run(x))
        name = f'glance-focus p{patch}'
        rows.append(dict(model=name, exits='none', gflops=costs[-1], fn=lambda m=model: m.run(x)))
        out = model.run(x)
        confidences = torch.stack([l.float().softmax(-1).amax(-1) for l in out.logits], 1).cpu().numpy()
        for share in (0.75, 0.5):  # budgets: 75% and 50% of the no-exit cost
            plan = fit_thresholds(confidences, costs, share * costs[-1], fit='geometric')  # no labels here
            exits = model.run(x, plan.thresholds).exit_index.cpu().numpy()
            rows.append(dict(model=name, exits=f'budget {share:.0%}', gflops=float(np.mean(np.asarray(costs)[exits])),
                             fn=lambda m=model, th=plan.thresholds: m.run(x, th)))
    seconds = timed({i: r.pop('fn') for i, r in enumerate(rows)}, device, repeats)
    for i, r in enumerate(rows):
        r['ms'] = seconds[i] / batch * 1e3
    for r in rows:
        r.update(device=device, batch=batch, time_ratio=r['ms'] / rows[0]['ms'],
                 flops_ratio=r['gflops'] / base_gflops)
        r['yardstick'] = r['time_ratio'] / r['flops_ratio']
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--batches', type=int, nargs='+', default=None, help='CPU batch sizes (default 1 16)')
    p.add_argument('--quick', action='store_true', help='tiny models, 2 repeats: a smoke run')
    p.add_argument('--no-channels-last', action='store_true',
                   help='keep the default memory layout (fused convs run channels-last anyway: use with --no-fuse)')
    p.add_argument('--no-fuse', action='store_true',
                   help='run the models as trained (no batch-norm folding or weight pre-packing)')
    p.add_argument('--devices', nargs='+', default=['cpu', 'cuda'], choices=['cpu', 'cuda'],
                   help='cuda runs only where a GPU is present')
    args = p.parse_args()
    tune_malloc()
    repeats = 2 if args.quick else args.repeats
    runs = []
    if 'cpu' in args.devices:
        runs += [('cpu', b) for b in (args.batches or ([1, 2] if args.quick else [1, 16]))]
    if 'cuda' in args.devices and torch.cuda.is_available() and not args.quick:
        runs += [('cuda', 1), ('cuda', 64)]
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads'
          + (f', {torch.cuda.get_device_name(0)}' if torch.cuda.is_available() else ''))
    print('| device | batch | model | exits | GFLOPs/clip | ms/clip | time ratio | FLOPs ratio | time/FLOPs |')
    print('|---|---|---|---|---|---|---|---|---|')
    for device, batch in runs:
        for r in measure(device, batch, repeats, args.quick, not args.no_channels_last, not args.no_fuse):
            print(f"| {device} | {batch} | {r['model']} | {r['exits']} | {r['gflops']:.3f} | {r['ms']:.1f} | "
                  f"{r['time_ratio']:.3f} | {r['flops_ratio']:.3f} | {r['yardstick']:.2f} |", flush=True)


if __name__ == '__main__':
    main()
