"""CPU training-step time of the demo models, with and without gfvideo's malloc tuning.

Each measurement runs in a fresh process (malloc settings are per process); the two
settings alternate so that load on the machine hits both alike. Prints the median
seconds per step of each and their ratio.

Usage: ``python benchmarks/train_step.py [--repeats 3] [--batch 16]``
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ('configs/demo/glance_focus_e2e.py', 'configs/demo/tsm_static.py')

_CHILD = r'''
import json, sys, time, torch
from gfvideo.runtime import tune_malloc
if sys.argv[2] == '1':
    tune_malloc()
from mmengine.config import Config
from mmengine.registry import DefaultScope
import gfvideo.models
from gfvideo.registry import MODELS
torch.manual_seed(0)
cfg = Config.fromfile(sys.argv[1])
with DefaultScope.overwrite_default_scope('gfvideo'):
    model = MODELS.build(cfg.model)
opt = torch.optim.AdamW(model.parameters(), 1e-3)
b, n, s = int(sys.argv[3]), cfg.model.num_frames, cfg.model.input_size
clips = torch.randint(0, 256, (b, n, 3, s, s), dtype=torch.uint8)
data = dict(inputs=clips, data_samples=dict(labels=torch.arange(b) % cfg.model.num_classes))
def step():
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    loss = sum(v for k, v in losses.items() if k.startswith('loss'))
    opt.zero_grad(); loss.backward(); opt.step()
for _ in range(3):
    step()
times = []
for _ in range(5):
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
print(json.dumps(sorted(times)[2]))
'''


def measure(config: str, tuned: bool, batch: int) -> float:
    out = subprocess.run([sys.executable, '-c', _CHILD, config, str(int(tuned)), str(batch)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--batch', type=int, default=16)
    args = p.parse_args()
    print(f'{"config":<40}{"default malloc":>16}{"tuned":>10}{"speed-up":>10}')
    for config in CONFIGS:
        runs = {False: [], True: []}
        for _ in range(args.repeats):
            for tuned in (False, True):
                runs[tuned].append(measure(config, tuned, args.batch))
        plain, tuned = statistics.median(runs[False]), statistics.median(runs[True])
        print(f'{config:<40}{plain:>14.3f} s{tuned:>8.3f} s{plain / tuned:>9.2f}x')


if __name__ == '__main__':
    main()
