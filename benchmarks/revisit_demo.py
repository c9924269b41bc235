"""Sequential focus (GFNet-style revisits) against one look per frame, on the demo data.

Trains, through ``tools/train.py`` on the demo's train split (seed 0 unless told):

- one look per frame: 4 patches of 48 px in 2 steps of 2 frames, end to end
  (``configs/demo/glance_focus_e2e.py``) and by PPO (``gf_ppo_stage{1,2,3}.py``);
- sequential focus: 3 steps, each over all 4 frames at new places, patches of 26 px
  (the GFLOPs of 4 looks of 48 px, within 2%), end to end (``gf_revisit_e2e.py``)
  and by PPO (``gf_revisit_ppo_stage{1,2,3}.py``);

and prints, on the test split, top-1 and GFLOPs at every exit and the share of patches on
the moving object per focus step (from the demo's ``boxes.json``).

Usage: ``python benchmarks/revisit_demo.py [--seed 0] [--data data/demo] [--work-dir work_dirs/revisit_demo]``
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from policy_ablation import ROOT, evaluate, train  # noqa: E402

RUNS = {  # name -> the configs trained in turn, each from the previous one's checkpoint
    'one look, end to end': ['configs/demo/glance_focus_e2e.py'],
    'one look, PPO': ['configs/demo/gf_ppo_stage1.py', 'configs/demo/gf_ppo_stage2.py',
                      'configs/demo/gf_ppo_stage3.py'],
    'revisits, end to end': ['configs/demo/gf_revisit_e2e.py'],
    'revisits, PPO': ['configs/demo/gf_revisit_ppo_stage1.py', 'configs/demo/gf_revisit_ppo_stage2.py',
                      'configs/demo/gf_revisit_ppo_stage3.py'],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data', default='data/demo', help='the demo data (make_demo_dataset.py)')
    p.add_argument('--work-dir', default='work_dirs/revisit_demo')
    p.add_argument('--runs', nargs='+', default=list(RUNS), choices=list(RUNS))
    args = p.parse_args()
    data = Path(args.data).resolve()
    if not (data / 'boxes.json').exists():
        subprocess.run([sys.executable, 'data_prep/make_demo_dataset.py', '--out', str(data)], cwd=ROOT, check=True)
    t0 = time.perf_counter()
    print('| run | top-1 per exit (%) | GFLOPs per exit | patches on the object per step (%) |')
    print('|---|---|---|---|')
    for name in args.runs:
        previous = None
        for i, config in enumerate(RUNS[name]):
            work = Path(args.work_dir).resolve() / name.replace(', ', '_').replace(' ', '_') / f'stage{i + 1}'
            previous = train(config, work, args.seed, data, None, previous)
        r = evaluate(RUNS[name][-1], previous, data)
        print(f"| {name} | {' / '.join(f'{v:.1f}' for v in r['top1_per_exit'])} | "
              f"{' / '.join(f'{v:.4f}' for v in r['gflops_per_exit'])} | "
              f"{' / '.join(f'{v:.0f}' for v in r['hit_per_step'])} |", flush=True)
    print(f'\n{time.perf_counter() - t0:.0f} s in all (seed {args.seed}, demo test split)')


if __name__ == '__main__':
    main()
