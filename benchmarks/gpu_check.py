"""The GPU paths CI can't run: one short script for a machine with a CUDA device.

1. AMP training: a few epochs of the demo glance-and-focus config through
   ``tools/train.py --amp`` on generated demo data (checks AmpOptimWrapper, finite losses,
   a checkpoint on disk).
2. CUDA inference with early exits through ``tools/test.py``.
3. DDP through torchrun (``--launcher pytorch``, nccl), one process per GPU.
   Also the PPO stage (``gf_ppo_stage2.py``: an ``OptimWrapperDict`` of ``AmpOptimWrapper``,
   ``MMSeparateDistributedDataParallel``) with ``--amp``, from the AMP checkpoint.
4. The same clips on CPU and CUDA give the same scores (float32).
5. Batch-64 latency on CUDA: static TSM-R50 8x224 beside glance-and-focus models
   (MobileNetV2 glance at 96, ResNet-50 focus at patch 96/128/160), float32 and autocast.

Usage: ``python benchmarks/gpu_check.py [--out DIR]``; prints one JSON summary at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gfvideo.data.demo import make_demo_dataset  # noqa: E402
from gfvideo.models import GlanceFocusRecognizer, StaticTSM  # noqa: E402


def tool(*args: str, log: Path) -> tuple[int, str]:
    with open(log, 'w') as f:
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    text = log.read_text()
    return proc.returncode, text


def data_options(data: Path, epochs: int) -> list[str]:
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.ann_file={data}/{split}.json',
                 f'{split}_dataloader.dataset.data_prefix={data}/videos',
                 f'{split}_dataloader.dataset.labels_file={data}/labels.json',
                 f'{split}_dataloader.num_workers=4']
    return opts + [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}']


@torch.no_grad()
def latency(model: torch.nn.Module, batch: int, frames: int, size: int, amp: bool, repeats: int = 10) -> float:
    """Median milliseconds per clip after warm-up."""
    x = torch.randn(batch, frames, 3, size, size, device='cuda')
    times = []
    for i in range(repeats + 3):
        torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast('cuda', dtype=torch.float16, enabled=amp):
            model.run(x, model.exit_thresholds)
        torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2] * 1000 / batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=os.environ.get('OUT', 'work_dirs/gpu_check'))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    assert torch.cuda.is_available(), 'no CUDA device'
    summary: dict = dict(device=torch.cuda.get_device_name(0), torch=torch.__version__)
    work = Path(tempfile.mkdtemp())
    data = work / 'demo'
    make_demo_dataset(data, num_train=256, num_val=64, num_test=64, workers=8)
    opts = data_options(data, epochs=2)
    cfg = 'configs/demo/glance_focus_e2e.py'

    t = time.time()
    rc, text = tool('tools/train.py', cfg, '--amp', '--work-dir', str(work / 'amp'), '--cfg-options', *opts,
                    log=out / 'amp_train.log')
    ckpt = (work / 'amp' / 'last_checkpoint')
    summary['amp_train'] = dict(rc=rc, seconds=round(time.time() - t, 1), amp='AmpOptimWrapper' in text,
                                checkpoint=ckpt.exists(), nan_loss='loss: nan' in text)
    if ckpt.exists():
        rc, text = tool('tools/test.py', cfg, ckpt.read_text().strip(), '--work-dir', str(work / 'amp'),
                        '--out', str(out / 'test_metrics.json'), '--cfg-options', *opts,
                        'model.exit_thresholds=[0.9,0.9,0.0]', log=out / 'cuda_test.log')
        summary['cuda_test_with_exits'] = json.loads((out / 'test_metrics.json').read_text()) if rc == 0 else rc

    rc, text = tool('-m', 'torch.distributed.run', '--nproc_per_node=1', 'tools/train.py', cfg,
                    '--launcher', 'pytorch', '--work-dir', str(work / 'ddp'), '--cfg-options', *opts,
                    'train_cfg.max_epochs=1', log=out / 'ddp_train.log')
    summary['ddp_nccl'] = dict(rc=rc, nccl='nccl' in text, checkpoint=(work / 'ddp' / 'last_checkpoint').exists())

    ppo = 'configs/demo/gf_ppo_stage2.py'
    rc, text = tool('-m', 'torch.distributed.run', '--nproc_per_node=1', 'tools/train.py', ppo, '--amp',
                    '--launcher', 'pytorch', '--work-dir', str(work / 'ppo'), '--cfg-options', *opts,
                    'train_cfg.max_epochs=1', f'load_from={work / "amp"}', log=out / 'ppo_amp_ddp.log')
    summary['ppo_stage_amp_nccl'] = dict(rc=rc, amp='AmpOptimWrapper' in text, reward='reward: ' in text,
                                         checkpoint=(work / 'ppo' / 'last_checkpoint').exists())

    torch.manual_seed(0)
    small = GlanceFocusRecognizer(
        num_classes=12, num_frames=4, input_size=128, glance=dict(backbone='resnet18', size=32, width=16),
        focus=dict(backbone='resnet18', patch=48, width=16), frames_per_step=2).eval()
    x = torch.randn(4, 4, 3, 128, 128)
    cpu = small.run(x).logits[-1]
    gpu = small.cuda().run(x.cuda()).logits[-1].cpu()
    summary['cpu_vs_cuda_max_abs_diff'] = float((cpu - gpu).abs().max())

    rows = []
    static = StaticTSM(num_classes=174, num_frames=8, input_size=224, backbone=dict(backbone='resnet50')).cuda().eval()
    static_gflops = static.gflops()
    for amp in (False, True):
        base = latency(static, 64, 8, 224, amp)
        rows.append(dict(model='static TSM-R50 8x224', amp=amp, gflops=round(static_gflops, 2),
                         ms_per_clip=round(base, 3), time_ratio=1.0, flops_ratio=1.0))
        for patch in (96, 128, 160):
            gf = GlanceFocusRecognizer(
                num_classes=174, num_frames=8, input_size=224,
                glance=dict(backbone='mobilenet_v2', size=96), focus=dict(backbone='resnet50', patch=patch),
                aggregator=dict(hidden=1024)).cuda().eval()
            gflops = gf.exit_costs()[-1]
            ms = latency(gf, 64, 8, 224, amp)
            rows.append(dict(model=f'glance-focus MBv2@96 + R50@{patch}', amp=amp, gflops=round(gflops, 2),
                             ms_per_clip=round(ms, 3), time_ratio=round(ms / base, 3),
                             flops_ratio=round(gflops / static_gflops, 3)))
    summary['latency_cuda_batch64'] = rows
    (out / 'gpu_check.json').write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
