"""Does the policy learn where to look? Top-1 on the demo test split, same backbones, same budget.

For each seed: stage 1 trains the glance and focus networks and the aggregator with random
patches (``configs/demo/gf_ppo_stage1.py``). On those frozen networks, with the same focus
budget (every clip's ``num_focus_frames`` patches), it then compares

- glance only (exit 0), centre patches, random patches (stage 1's own policy),
- the policy learned by PPO (``gf_ppo_stage2.py``),
- the policy learned end to end through the differentiable crop (``gf_e2e_policy_only.py``),

and prints top-1 at the last exit and the hit rate (the share of patches that contain the
moving object's centre, from the demo's ``boxes.json``) as mean and standard error over
seeds. Everything goes through ``tools/train.py`` and real checkpoints.

Usage: ``python benchmarks/policy_ablation.py [--seeds 0 1 2] [--data data/demo] [--stage1-epochs N]``
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
METHODS = ['glance only', 'centre', 'random', 'PPO', 'end to end']


def train(config: str, work: Path, seed: int, data: Path, epochs: int | None, load_from: Path | None) -> Path:
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', str(work), '--seed', str(seed)]
    opts = [f'{s}_dataloader.dataset.{k}={data}/{v}' for s in ('train', 'val', 'test')
            for k, v in (('labels_file', 'labels.json'), ('data_prefix', 'videos'))]
    opts += [f'{s}_dataloader.dataset.ann_file={data}/{s}.json' for s in ('train', 'val', 'test')]
    if epochs:
        opts += [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
                 f'param_scheduler.0.end={epochs}']
        if 'stage1' in config:  # its cosine schedule
            opts.append(f'param_scheduler.0.T_max={epochs}')
    if load_from:
        opts.append(f'load_from={load_from}')
    proc = subprocess.run(cmd + ['--cfg-options', *opts], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f'{config} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}')
    return work


def evaluate(config: str, work: Path, data: Path, policy: dict | None = None,
             data_options: dict | None = None) -> dict:
    """Top-1 (%) at exit 0, at the last exit and at every exit, GFLOPs per exit, and the patches'
    hit rate (all steps, and per focus step), on the test split.

    ``policy``: another policy for the same networks (e.g. ``dict(type='random')``).
    ``data_options``: the ``--cfg-options`` pointing the test split at ``data`` (default: the
    video demo's files; the image demo's are its ``test_dataloader.dataset.data_prefix`` and
    ``class_names_file``); ``data/boxes.json`` gives the object's boxes either way."""
    from gfvideo.engine.runner import build_config, build_runner
    from gfvideo.report import collect

    ckpt = (work / 'last_checkpoint').read_text().strip()
    opts = dict(data_options) if data_options is not None else {
        f'test_dataloader.dataset.{k}': f'{data}/{v}' for k, v in
        (('labels_file', 'labels.json'), ('data_prefix', 'videos'), ('ann_file', 'test.json'))}
    if policy is not None:
        opts['model.policy'] = policy
    cfg = build_config(config, work_dir=str(work / 'eval'), cfg_options=opts)
    cfg.load_from = None  # a stage config's own load_from (the previous stage's default work dir) is not used
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    runner.load_checkpoint(ckpt, strict=False)
    table = collect(runner.model, runner.build_dataloader(cfg.test_dataloader), progress=False)
    boxes = json.loads((data / 'boxes.json').read_text())
    size = cfg.model.input_size
    hits = [[] for _ in table.looks[0]]   # per focus step
    for clip, frames, looks in zip(table.clip_ids, table.frame_inds, table.looks):
        for step, look in enumerate(looks):
            for slot, (x0, y0, x1, y1) in zip(look['frames'], look['boxes']):
                ox0, oy0, ox1, oy1 = boxes[clip][frames[slot]]
                cx, cy = (ox0 + ox1) / 2 * size, (oy0 + oy1) / 2 * size
                hits[step].append(x0 <= cx < x1 and y0 <= cy < y1)
    anytime = table.anytime_top1()
    return dict(glance=anytime[0], last=anytime[-1], hit=100 * float(np.mean(sum(hits, []))),
                top1_per_exit=anytime, gflops_per_exit=list(table.exit_costs),
                hit_per_step=[100 * float(np.mean(h)) for h in hits])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--data', default='data/demo', help='the demo data (make_demo_dataset.py)')
    p.add_argument('--work-dir', default='work_dirs/policy_ablation')
    p.add_argument('--stage1-epochs', type=int, default=None, help="override stage 1's 16 epochs")
    p.add_argument('--policy-epochs', type=int, default=None, help='override the policy configs\' epochs')
    args = p.parse_args()
    data = Path(args.data).resolve()
    if not (data / 'boxes.json').exists():
        subprocess.run([sys.executable, 'data_prep/make_demo_dataset.py', '--out', str(data)], cwd=ROOT, check=True)
    rows = {m: [] for m in METHODS}
    hits = {m: [] for m in METHODS}
    t0 = time.perf_counter()
    for seed in args.seeds:
        work = Path(args.work_dir).resolve() / f'seed{seed}'
        s1 = train('configs/demo/gf_ppo_stage1.py', work / 'stage1', seed, data, args.stage1_epochs, None)
        ppo = train('configs/demo/gf_ppo_stage2.py', work / 'ppo', seed, data, args.policy_epochs, s1)
        e2e = train('configs/demo/gf_e2e_policy_only.py', work / 'e2e', seed, data, args.policy_epochs, s1)
        stage1 = 'configs/demo/gf_ppo_stage1.py'
        results = {'random': evaluate(stage1, s1, data),
                   'centre': evaluate(stage1, s1, data, dict(type='center')),
                   'PPO': evaluate('configs/demo/gf_ppo_stage2.py', ppo, data),
                   'end to end': evaluate('configs/demo/gf_e2e_policy_only.py', e2e, data)}
        rows['glance only'].append(results['random']['glance'])
        hits['glance only'].append(float('nan'))
        for m, r in results.items():
            rows[m].append(r['last'])
            hits[m].append(r['hit'])
        print(f'seed {seed}: ' + ', '.join(f'{m} {rows[m][-1]:.1f}' for m in METHODS)
              + f'  ({time.perf_counter() - t0:.0f} s)', flush=True)

    def cell(values: list[float]) -> str:
        v = np.asarray(values, dtype=float)
        if np.isnan(v).all():
            return '-'
        se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
        return f'{v.mean():.1f} ± {se:.1f}'

    print(f'\ndemo test split, {len(args.seeds)} seeds (mean ± standard error), '
          f'{time.perf_counter() - t0:.0f} s in all')
    print('| policy | top-1 (%) | patches on the object (%) |')
    print('|---|---|---|')
    for m in METHODS:
        print(f'| {m} | {cell(rows[m])} | {cell(hits[m])} |')


if __name__ == '__main__':
    main()
