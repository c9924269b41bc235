"""The main job on the built-in demo data, start to finish, with each phase timed.

1. generate the demo videos (skipped when they exist), 2. train the glance-and-focus
model end to end and the static TSM baseline, 3. evaluate both on the test split,
4. print top-1 and mean GFLOPs per clip side by side.

Every phase is one of the ordinary command-line tools, run as a user would run it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {'glance-focus (e2e)': 'configs/demo/glance_focus_e2e.py',
           'static TSM': 'configs/demo/tsm_static.py'}


def run(cmd: list[str], log: Path | None = None) -> None:
    print('$', ' '.join(cmd), flush=True)
    if log is None:
        subprocess.run(cmd, cwd=ROOT, check=True)
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        sys.exit(f'failed ({proc.returncode}); see {log}:\n' + log.read_text()[-3000:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='data/demo', help='demo data folder')
    p.add_argument('--work-dir', default='work_dirs/demo', help='where checkpoints, logs and reports go')
    p.add_argument('--epochs', type=int, default=None, help='override the configs\' training epochs')
    args = p.parse_args()
    py = sys.executable
    times: dict[str, float] = {}
    work = Path(args.work_dir)

    t = time.time()
    if not (ROOT / args.data / 'test.json').exists():
        run([py, 'data_prep/make_demo_dataset.py', '--out', args.data])
    else:
        print(f'demo data found in {args.data}')
    times['data'] = time.time() - t

    data_opts = [f'{split}_dataloader.dataset.{key}={args.data}/{value}'
                 for split, ann in (('train', 'train'), ('val', 'val'), ('test', 'test'))
                 for key, value in (('ann_file', f'{ann}.json'), ('data_prefix', 'videos'),
                                    ('labels_file', 'labels.json'))]
    if args.epochs:
        data_opts.append(f'train_cfg.max_epochs={args.epochs}')
    results = {}
    for name, config in CONFIGS.items():
        tag = Path(config).stem
        wd = work / tag
        t = time.time()
        print(f'\n== training {name}: {config} (log: {wd}/train.log)', flush=True)
        run([py, 'tools/train.py', config, '--work-dir', str(wd), '--cfg-options', *data_opts],
            log=wd / 'train.log')
        times[f'train {name}'] = time.time() - t
        t = time.time()
        ckpt = (wd / 'last_checkpoint').read_text().strip()
        out = wd / 'test_metrics.json'
        print(f'== testing {name}', flush=True)
        run([py, 'tools/test.py', config, ckpt, '--work-dir', str(wd), '--out', str(out),
             '--cfg-options', *data_opts], log=wd / 'test.log')
        results[name] = json.loads(out.read_text())
        times[f'test {name}'] = time.time() - t

    print('\n== demo results (test split)')
    print(f'{"model":<22}{"top-1 %":>9}{"top-5 %":>9}{"GFLOPs/clip":>13}{"mean exit":>11}')
    for name, m in results.items():
        print(f'{name:<22}{m["top1"]:>9.1f}{m["top5"]:>9.1f}{m["gflops"]:>13.4f}{m["mean_exit"]:>11.2f}')
    print('\n== phase times')
    for phase, seconds in times.items():
        print(f'{phase:<32}{seconds:>8.1f} s')
    print(f'{"total":<32}{sum(times.values()):>8.1f} s')


if __name__ == '__main__':
    main()
