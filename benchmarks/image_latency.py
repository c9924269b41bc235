"""GFNet on images, the seed paper's latency claim: GFNet-MobileNetV3 (and GFNet-ResNet-50) against
the static backbone at 224, at the image demo's exit fractions.

Protocol, in one run on one machine:

1. Exit fractions: from the image demo's report (``make demo-images`` writes
   ``work_dirs/demo_images/report/summary.json``; ``--summary`` for another): the smallest budget
   whose top-1 is within 0.5 points of the static baseline's. When no budget gets that close
   (the demo's GFNet reaches about 86% against the static network's 100%), the most accurate
   budget (the cheapest of equals), and the table says so. ``--fractions 0.3 0.7`` gives them
   by hand. The demo's model has its own number of exits; fraction k goes to the full model's
   exit at the same relative depth (k / (E_demo - 1) of the way), fractions landing on one
   exit adding up.
2. Models: full size, random weights, the shipped configs
   (``configs/gfnet/gfnet_mbv3_p96_imagenet_stage3.py``: MobileNetV3-Large glance at 96 and 2
   patches of 96, per-length heads; ``gfnet_r50_p96_imagenet_stage3.py``: ResNet-50, 4 patches,
   GRU 1024; GFNet's own policy), against the static backbone on the 224 image (its classifier
   included). Batch-norm statistics set from the benchmark images, classifiers scaled up (x10)
   so confidences spread over the images as a trained model's do.
3. The exits are real: thresholds are set on the images' own confidences so that exactly the
   wanted share leaves at each exit (rows leave the batch), checked against the run's exits.
   Batch 1: every image alone (ms per image = the mean over them); batch 16: one batch.
4. As deployed: batch norm folded, conv weights channels-last and pre-packed for oneDNN
   (``gfvideo.models.fuse``), timed round-robin (``--repeats``, at least 5), medians.

Printed: mean GFLOPs and ms per image, the time and FLOPs ratios to the static backbone, and
time/FLOPs (1.0: time follows FLOPs); GFNet's GFLOPs at each exit; then, at batch 1, where
GFNet's time goes, per component
(``gfvideo.compute.latency.component_times``). Goal (the issue): GFNet-MobileNetV3 at least
1.3x faster than static MobileNetV3 at batch 1, its time ratio within 1.15x of its FLOPs ratio.

Usage: ``python benchmarks/image_latency.py [--repeats 5] [--batches 1 16] [--models mbv3 r50]
[--summary PATH | --fractions F0 F1 ...] [--quick]`` (``--quick``: tiny models at 64 px, a smoke run).
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))
from latency import WARMUP, prepare  # noqa: E402
from gfvideo.compute.latency import COMPONENTS, component_times, timed_round_robin  # noqa: E402
from gfvideo.models import Recognizer, StaticTSM  # noqa: E402
from gfvideo.registry import MODELS  # noqa: E402
from gfvideo.runtime import cpu_name, tune_malloc  # noqa: E402

GFNET = {'mbv3': 'configs/gfnet/gfnet_mbv3_p96_imagenet_stage3.py',
         'r50': 'configs/gfnet/gfnet_r50_p96_imagenet_stage3.py'}
STATIC_NAMES = {'mbv3': 'MobileNetV3-Large', 'r50': 'ResNet-50'}
SUMMARY = 'work_dirs/demo_images/report/summary.json'
QUICK = {'model.num_classes': 10, 'model.input_size': 64, 'model.glance.size': 32, 'model.focus.patch': 32,
         'model.glance.width': 0.25, 'model.focus.width': 0.25, 'model.policy.map_size': 1}
QUICK_R50 = {'model.glance.width': 8, 'model.focus.width': 8, 'model.aggregator.hidden': 32, 'model.policy.hidden': 32}


def demo_fractions(path: Path) -> tuple[list[float], str]:
    """The demo's exit fractions at the protocol's budget, and a line saying which budget that is."""
    summary = json.loads(path.read_text())
    static = summary['baseline']['top1']
    budgets = sorted(summary['budgets'], key=lambda b: b['budget'])
    close = [b for b in budgets if b['top1'] >= static - 0.5]
    if close:
        pick, why = close[0], f'the smallest budget within 0.5 points of the static top-1 ({static:.1f}%)'
    else:
        best = max(b['top1'] for b in budgets)
        pick = next(b for b in budgets if b['top1'] == best)
        why = (f'no budget within 0.5 points of the static top-1 ({static:.1f}%): the most accurate budget, '
               f'the cheapest of equals')
    counts = np.asarray(pick['exit_counts'], dtype=float)
    line = (f"{path}: budget {pick['budget']:.4g} GFLOPs, top-1 {pick['top1']:.1f}%, exit fractions "
            f"{', '.join(f'{f:.3f}' for f in counts / counts.sum())} ({why})")
    return (counts / counts.sum()).tolist(), line


def map_fractions(fractions: list[float], num_exits: int) -> list[float]:
    """Fraction k of an E-exit model -> the ``num_exits``-exit model's exit at the same relative depth."""
    out = [0.0] * num_exits
    last = len(fractions) - 1
    for k, f in enumerate(fractions):
        out[round(k * (num_exits - 1) / last) if last else num_exits - 1] += f
    return out


def counts_for(fractions: list[float], n: int) -> list[int]:
    """``n`` images split by ``fractions`` (largest remainders)."""
    raw = np.asarray(fractions) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(raw - counts)[::-1][:n - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


@torch.no_grad()
def thresholds_for(model: Recognizer, x: torch.Tensor, counts: list[int]) -> list[float]:
    """Max-prob thresholds under which exactly ``counts[t]`` of ``x``'s images leave at exit t."""
    confidences = torch.stack([l.float().softmax(-1).amax(-1) for l in model.run(x).logits], 1).cpu().numpy()
    running = np.ones(len(x), dtype=bool)
    thresholds = []
    for t, n in enumerate(counts[:-1]):
        c = np.sort(confidences[running, t])[::-1]
        thr = 2.0 if n == 0 else (0.0 if n >= len(c) else float((c[n - 1] + c[n]) / 2))
        thresholds.append(thr)
        running &= confidences[:, t] < thr
    return thresholds + [0.0]


def build(config: str, quick: bool, r50: bool) -> tuple[Recognizer, StaticTSM]:
    """GFNet from ``config`` and the static backbone: its focus network on the whole image, with a classifier."""
    cfg = Config.fromfile(str(ROOT / config))
    if quick:
        cfg.merge_from_dict({**QUICK, **(QUICK_R50 if r50 else {})})
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():   # confidences that spread over the images (see the module docstring)
        for m in model.aggregator.modules():
            if isinstance(m, torch.nn.Linear) and m.out_features == model.num_classes:
                m.weight.mul_(10)
    focus = {k: v for k, v in cfg.model.focus.items() if k not in ('patch', 'rounding', 'pretrained')}
    static = StaticTSM(num_classes=model.num_classes, num_frames=1, input_size=model.input_size,
                       backbone=dict(focus, shift=False)).eval()
    return model, static


def images(batch: int, size: int) -> torch.Tensor:
    """Noise plus a per-image colour cast, so that images differ after the glance's downsampling."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch, 1, 3, size, size, generator=g) + 2 * torch.randn(batch, 1, 3, 1, 1, generator=g)


@torch.no_grad()
def measure(name: str, model: Recognizer, static: StaticTSM, static_name: str, x: torch.Tensor,
            fractions: list[float], batch: int, repeats: int) -> tuple[list[dict], dict | None]:
    """Rows for the static backbone and GFNet (forced to ``fractions``) at ``batch``; batch 1's component split."""
    n = len(x)
    counts = counts_for(fractions, n)
    thresholds = thresholds_for(model, x, counts)
    exits = model.run(x, thresholds).exit_index.cpu().numpy()
    if np.bincount(exits, minlength=model.num_exits).tolist() != counts:
        raise RuntimeError(f'{name}: exits {np.bincount(exits).tolist()}, meant {counts} (tied confidences?)')
    costs = np.asarray(model.exit_costs())
    gf_gflops, base_gflops = float(costs[exits].mean()), static.exit_costs()[-1]
    if batch == 1:
        singles = [x[i:i + 1] for i in range(n)]
        fns = {'static': lambda: [static.run(s) for s in singles],
               'gfnet': lambda: [model.run(s, thresholds) for s in singles]}
    else:
        fns = {'static': lambda: static.run(x), 'gfnet': lambda: model.run(x, thresholds)}
    split = None
    with ExitStack() as stack:
        runs = stack.enter_context(component_times(model)) if batch == 1 else None
        ms = timed_round_robin(fns, x.device, repeats, WARMUP)
    if runs:
        timed = runs[len(runs) * WARMUP // (WARMUP + repeats):]          # the timed rounds' runs
        total = sum(r['total'] for r in timed)
        split = dict(total=total / len(timed), parts={c: sum(r['parts'][c] for r in timed) / len(timed)
                                                      for c in COMPONENTS})
    base_ms, gf_ms = ms['static'] / n, ms['gfnet'] / n
    rows = [dict(model=f'static {static_name} {static.input_size}', exits='-', gflops=base_gflops, ms=base_ms),
            dict(model=name, exits=' / '.join(f'{c / n:.2f}' for c in counts), gflops=gf_gflops, ms=gf_ms)]
    for r in rows:
        r.update(time_ratio=base_ms / r['ms'], flops_ratio=base_gflops / r['gflops'])
        r['yardstick'] = r['flops_ratio'] / r['time_ratio']
    return rows, split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--batches', type=int, nargs='+', default=[1, 16])
    p.add_argument('--models', nargs='+', default=['mbv3', 'r50'], choices=sorted(GFNET))
    p.add_argument('--summary', type=Path, default=ROOT / SUMMARY, help="the image demo report's summary.json")
    p.add_argument('--fractions', type=float, nargs='+', default=None,
                   help='exit fractions by hand (glance first), in place of the demo report')
    p.add_argument('--images', type=int, default=32, help='images timed one at a time at batch 1')
    p.add_argument('--quick', action='store_true', help='tiny models at 64 px, 2 repeats: a smoke run')
    args = p.parse_args()
    tune_malloc()
    repeats = 2 if args.quick else max(args.repeats, 1)
    if args.fractions:
        fractions, source = [f / sum(args.fractions) for f in args.fractions], 'exit fractions given by hand'
    elif args.summary.is_file():
        fractions, source = demo_fractions(args.summary)
    else:
        raise SystemExit(f'{args.summary} not found: run `make demo-images` first, or give --fractions')
    print(f'\n## {cpu_name()}: kernels {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, '
          f'torch {torch.__version__}\n\n{source}\n')
    print('| batch | model | exit fractions | GFLOPs/image | ms/image | speed-up (time) | saving (FLOPs) | '
          'FLOPs/time |')
    print('|---|---|---|---|---|---|---|---|')
    splits, exit_costs = {}, {}
    for name in args.models:
        torch.manual_seed(0)
        model, static = build(GFNET[name], args.quick, name == 'r50')
        wanted = map_fractions(fractions, model.num_exits)
        for batch in args.batches:
            x = images(args.images if batch == 1 else batch, model.input_size)
            model, static = prepare(model, x, True, True), prepare(static, x, True, True)
            label = f'GFNet-{name.upper()} p{model.patch_size}, T={model.num_exits}'
            rows, split = measure(label, model, static, STATIC_NAMES[name], x, wanted, batch, repeats)
            for r in rows:
                print(f"| {batch} | {r['model']} | {r['exits']} | {r['gflops']:.3f} | {r['ms']:.2f} | "
                      f"{r['time_ratio']:.2f}x | {r['flops_ratio']:.2f}x | {r['yardstick']:.2f} |", flush=True)
            if split:
                splits[label] = split
            exit_costs[label] = model.exit_costs()
    print('\nGFLOPs per image at each exit (the glance first, cumulative):\n')
    for label, costs in exit_costs.items():
        print(f"- {label}: {' / '.join(f'{c:.3f}' for c in costs)}")
    if splits:
        print('\nWhere GFNet\'s time goes (batch 1, at those exits; ms per image, share of the run):\n')
        print('| model | total | ' + ' | '.join(COMPONENTS) + ' |')
        print('|---|---|' + '---|' * len(COMPONENTS))
        for label, s in splits.items():
            cells = [f"{s['parts'][c]:.2f} ({100 * s['parts'][c] / s['total']:.0f}%)" for c in COMPONENTS]
            print(f"| {label} | {s['total']:.2f} | " + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
