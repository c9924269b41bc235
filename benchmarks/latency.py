"""Wall-clock time per clip beside GFLOPs: does the saved compute turn into saved time?

In one run, on one machine, the shipped Something-Something V2 configs: static TSM-R50 8x224
(``configs/tsm/tsm_r50_8f_sthv2.py``) and glance and focus at patch 96/128/160
(``configs/glance_focus/gf_mbv2_r50_p{96,128,160}_sthv2.py``: MobileNetV2-TSM glance at 96,
ResNet-50-TSM focus, 8 frames in 2 steps of 4, GRU 1024), without early exit and with real
early exit at a 50% budget. Printed:

1. per device and batch: median ms per clip after warm-up, measured GFLOPs per clip, the time
   ratio to the static model beside the FLOPs ratio, and time/FLOPs (1.0: time follows FLOPs);
2. where the time goes (batch 1, no exit, CPU): glance, policy, crop, focus, aggregator (the
   1024-wide GRU and the classifier), per-step overhead (``gfvideo.compute.latency``);
3. a step run on r of B rows against the full batch's step (rows that left at the glance):
   the goal is at most 1.2 x r / B.

Exits: thresholds fitted (MSDNet procedure, ``gfvideo.compute.exits``) on the benchmark
batch's own confidences so that the mean cost meets the budget; the timed run then really
exits (rows leave the batch), and the GFLOPs column is the mean over the clips that ran.
The models are randomly initialised: the glance-and-focus models' batch-norm statistics are
set from the benchmark batch and the classifier's weights scaled up (x10), so that
confidences spread over the clips as a trained model's do.

Both models run as an inference deployment would: conv weights channels-last, batch norm and
activations folded into the convs and, on CPU, weights pre-packed for oneDNN
(``gfvideo.models.fuse``; ``--no-fuse`` and ``--no-channels-last`` turn these off). The
models are timed round-robin so that a drifting machine does not bias the ratios.

Time/FLOPs depends on the CPU's vector units. ``--isa avx2`` reruns the benchmark with
PyTorch's and oneDNN's kernels limited to AVX2 (``ATEN_CPU_CAPABILITY=avx2``,
``ONEDNN_MAX_CPU_ISA=AVX2``: what an AVX2-only CPU runs), ``--isa both`` runs it as the
machine is and then so limited.

Usage: ``python benchmarks/latency.py [--repeats 3] [--batches 1 16] [--devices cpu cuda]
[--isa current|avx2|both] [--quick] [--no-fuse]`` (``--quick``: tiny models at 64 px, a smoke run).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gfvideo.compute.exits import fit_thresholds  # noqa: E402
from gfvideo.compute.latency import COMPONENTS, component_times, timed_round_robin  # noqa: E402
from gfvideo.models import Recognizer  # noqa: E402
from gfvideo.models.fuse import fuse_for_inference  # noqa: E402
from gfvideo.registry import MODELS  # noqa: E402
from gfvideo.runtime import channels_last as to_channels_last, cpu_name, tune_malloc  # noqa: E402

STATIC = 'configs/tsm/tsm_r50_8f_sthv2.py'
GLANCE_FOCUS = 'configs/glance_focus/gf_mbv2_r50_p{}_sthv2.py'
QUICK_PATCH = {96: 24, 128: 32, 160: 40}  # --quick: the p128 config shrunk, patches scaled as the frame
QUICK = {
    'model.num_classes': 10, 'model.input_size': 64, 'model.backbone.width': 8,
    'model.glance.size': 32, 'model.glance.width': 0.25, 'model.glance.last_channels': 64,
    'model.focus.width': 8, 'model.aggregator.hidden': 32}
WARMUP = 2  # untimed rounds before each timed series
AVX2 = dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2')


def build(config: str, quick: bool, **overrides) -> Recognizer:
    cfg = Config.fromfile(str(ROOT / config))
    options = {k: v for k, v in QUICK.items() if quick and k.split('.')[1] in cfg.model}
    cfg.merge_from_dict({**options, **overrides})
    return MODELS.build(cfg.model).eval()


def models(quick: bool, patches: list[int]) -> tuple[Recognizer, dict[int, Recognizer], int]:
    torch.manual_seed(0)
    static = build(STATIC, quick)
    gf = {}
    for p in patches:
        gf[p] = build(GLANCE_FOCUS.format(128 if quick else p), quick,
                      **({'model.focus.patch': QUICK_PATCH[p]} if quick else {}))
        with torch.no_grad():
            gf[p].aggregator.head.weight.mul_(10)
    return static, gf, static.input_size


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


def clips(batch: int, size: int, device: str) -> torch.Tensor:
    """Noise plus a per-clip colour cast, so that clips differ after the glance's downsampling."""
    g = torch.Generator().manual_seed(0)
    return (torch.randn(batch, 8, 3, size, size, generator=g) + 2 * torch.randn(batch, 1, 3, 1, 1, generator=g)).to(device)


def prepare(model: Recognizer, x: torch.Tensor, channels_last: bool, fuse: bool) -> Recognizer:
    calibrate(model, x)
    if channels_last:
        to_channels_last(model)
    if fuse:
        fuse_for_inference(model, lambda: model.run(x))
    return model


def half_budget(model: Recognizer, x: torch.Tensor) -> list[float]:
    """Thresholds that meet 50% of the no-exit cost on ``x``'s own confidences (no labels here)."""
    costs = model.exit_costs()
    confidences = torch.stack([l.float().softmax(-1).amax(-1) for l in model.run(x).logits], 1).cpu().numpy()
    return fit_thresholds(confidences, costs, 0.5 * costs[-1], fit='geometric').thresholds


@torch.no_grad()
def measure(static: Recognizer, gf: dict[int, Recognizer], x: torch.Tensor, repeats: int) -> list[dict]:
    """Table 1's rows for one device and batch (the models already prepared for ``x``)."""
    base_gflops = static.exit_costs()[-1]
    rows = [dict(model=f'static TSM-R50 8x{x.shape[-1]}', exits='-', gflops=base_gflops, fn=lambda: static.run(x))]
    for model in gf.values():
        costs = model.exit_costs()
        name = f'glance-focus p{model.patch_size}'
        rows.append(dict(model=name, exits='none', gflops=costs[-1], fn=lambda m=model: m.run(x)))
        thresholds = half_budget(model, x)
        exits = model.run(x, thresholds).exit_index.cpu().numpy()
        rows.append(dict(model=name, exits='budget 50%', gflops=float(np.mean(np.asarray(costs)[exits])),
                         fn=lambda m=model, th=thresholds: m.run(x, th)))
    ms = timed_round_robin({i: r.pop('fn') for i, r in enumerate(rows)}, x.device, repeats, WARMUP)
    for i, r in enumerate(rows):
        r['ms'] = ms[i] / x.shape[0]
        r.update(time_ratio=r['ms'] / rows[0]['ms'], flops_ratio=r['gflops'] / base_gflops)
        r['yardstick'] = r['time_ratio'] / r['flops_ratio']
    return rows


@torch.no_grad()
def parts(gf: dict[int, Recognizer], x: torch.Tensor, repeats: int) -> dict[int, dict]:
    """Median ms of each component of one no-exit run, per patch (round-robin over the models)."""
    with ExitStack() as stack:
        runs = {p: stack.enter_context(component_times(m)) for p, m in gf.items()}
        timed_round_robin({p: lambda m=m: m.run(x) for p, m in gf.items()}, x.device, repeats, WARMUP)
    out = {}
    for p, rs in runs.items():
        rs = rs[WARMUP:]
        out[p] = dict(patch=gf[p].patch_size, total=float(np.median([r['total'] for r in rs])),
                      parts={c: float(np.median([r['parts'][c] for r in rs])) for c in COMPONENTS},
                      steps=[float(np.median([r['steps'][s]['ms'] for r in rs])) for s in range(len(rs[0]['steps']))])
    return out


@torch.no_grad()
def row_scaling(model: Recognizer, x: torch.Tensor, repeats: int) -> list[dict]:
    """Focus step 1's ms when only r of the B rows are still running after the glance."""
    b = x.shape[0]
    conf = model.run(x).logits[0].float().softmax(-1).amax(-1).sort(descending=True).values.cpu().numpy()
    rs = sorted({max(1, b // 2 ** i) for i in range(5)})
    rules = {}
    for r in rs:  # the b - r most confident rows leave at the glance
        t0 = 2.0 if r == b else float((conf[b - r - 1] + conf[b - r]) / 2)
        rules[r] = [t0] + [2.0] * (model.num_exits - 2) + [0.0]
    steps: dict[int, list[float]] = {r: [] for r in rs}
    with component_times(model) as runs:
        for _ in range(WARMUP + repeats):
            for r, th in rules.items():
                model.run(x, th)
                step = runs[-1]['steps'][0]
                if step['rows'] != r:
                    raise RuntimeError(f'{step["rows"]} rows ran step 1, meant {r} (tied confidences?)')
                steps[r].append(step['ms'])
    ms = {r: float(np.median(t[WARMUP:])) for r, t in steps.items()}
    return [dict(rows=r, ms=ms[r], ratio=ms[r] / ms[b],
                 bound=1.2 * r / b) for r in rs]


def run_isas(args: argparse.Namespace) -> None:
    """``--isa avx2|both``: this benchmark again in a child process per instruction set."""
    argv = [a for a in sys.argv[1:] if not a.startswith('--isa=')]
    if '--isa' in argv:
        del argv[argv.index('--isa'):argv.index('--isa') + 2]
    for isa in (['current', 'avx2'] if args.isa == 'both' else [args.isa]):
        env = {k: v for k, v in os.environ.items() if k not in AVX2}
        if isa == 'avx2':
            env.update(AVX2)
        subprocess.run([sys.executable, __file__, *argv, '--isa', 'current'], env=env, check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--batches', type=int, nargs='+', default=None, help='CPU batch sizes (default 1 16)')
    p.add_argument('--patches', type=int, nargs='+', default=[96, 128, 160], choices=[96, 128, 160])
    p.add_argument('--parts', type=int, nargs='*', default=[96, 128], help='patches whose time is split by component')
    p.add_argument('--quick', action='store_true', help='tiny models, 2 repeats: a smoke run')
    p.add_argument('--isa', choices=['current', 'avx2', 'both'], default='current',
                   help='CPU kernels as this machine has them, limited to AVX2, or both in turn')
    p.add_argument('--no-channels-last', action='store_true',
                   help='keep the default memory layout (fused convs run channels-last anyway: use with --no-fuse)')
    p.add_argument('--no-fuse', action='store_true',
                   help='run the models as trained (no batch-norm folding or weight pre-packing)')
    p.add_argument('--devices', nargs='+', default=['cpu', 'cuda'], choices=['cpu', 'cuda'],
                   help='cuda runs only where a GPU is present')
    args = p.parse_args()
    if args.isa != 'current':
        return run_isas(args)
    tune_malloc()
    repeats = 2 if args.quick else args.repeats
    runs = [('cpu', b) for b in (args.batches or ([1, 2] if args.quick else [1, 16]))] if 'cpu' in args.devices else []
    if 'cuda' in args.devices and torch.cuda.is_available() and not args.quick:
        runs += [('cuda', 1), ('cuda', 64)]
    print(f'\n## {cpu_name()}: kernels {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, '
          f'torch {torch.__version__}' + (f', {torch.cuda.get_device_name(0)}' if torch.cuda.is_available() else ''))
    print('\n| device | batch | model | exits | GFLOPs/clip | ms/clip | time ratio | FLOPs ratio | time/FLOPs |')
    print('|---|---|---|---|---|---|---|---|---|')
    breakdown: dict[int, dict] = {}
    scaling: list[dict] = []
    for device, batch in runs:
        static, gf, size = models(args.quick, args.patches)
        x = clips(batch, size, device)
        static = prepare(static.to(device), x, not args.no_channels_last, not args.no_fuse)
        gf = {p_: prepare(m.to(device), x, not args.no_channels_last, not args.no_fuse) for p_, m in gf.items()}
        for r in measure(static, gf, x, repeats):
            print(f"| {device} | {batch} | {r['model']} | {r['exits']} | {r['gflops']:.3f} | {r['ms']:.1f} | "
                  f"{r['time_ratio']:.3f} | {r['flops_ratio']:.3f} | {r['yardstick']:.2f} |", flush=True)
        if device == 'cpu' and batch == 1:
            breakdown = parts({p_: m for p_, m in gf.items() if p_ in args.parts}, x, repeats)
        if device == 'cpu' and batch == max(b for d, b in runs if d == 'cpu') and batch > 1 and gf:
            big = max(p_ for p_ in gf if p_ in args.parts) if set(args.parts) & set(gf) else max(gf)
            scaling = [dict(r, patch=gf[big].patch_size, batch=batch) for r in row_scaling(gf[big], x, repeats)]
    if breakdown:
        print('\nWhere the time goes (CPU, batch 1, no exit; ms per clip, share of the run):\n')
        print('| model | total | ' + ' | '.join(COMPONENTS) + ' | focus steps |')
        print('|---|---|' + '---|' * len(COMPONENTS) + '---|')
        for p_, b in breakdown.items():
            cells = [f"{b['parts'][c]:.1f} ({100 * b['parts'][c] / b['total']:.0f}%)" for c in COMPONENTS]
            print(f"| p{b['patch']} | {b['total']:.1f} | " + ' | '.join(cells) + f" | {' / '.join(f'{s:.1f}' for s in b['steps'])} |")
    if scaling:
        s0 = scaling[0]
        print(f"\nFocus step 1 on r of {s0['batch']} rows (p{s0['patch']}, CPU; the others left at the glance):\n")
        print('| rows r | step ms | of the full batch\'s step | goal: at most 1.2 r/B | met |')
        print('|---|---|---|---|---|')
        for r in scaling:
            print(f"| {r['rows']} | {r['ms']:.1f} | {r['ratio']:.3f} | {r['bound']:.3f} | "
                  f"{'yes' if r['ratio'] <= r['bound'] else 'no'} |")


if __name__ == '__main__':
    main()
