"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options ...]``.

Prints top-1 / top-5 beside the mean GFLOPs per clip and the mean exit taken.
"""
from __future__ import annotations

import argparse
import json
import sys

from gfvideo.compute.exits import load_thresholds
from gfvideo.runtime import tune_malloc
from gfvideo.engine.resume import CheckpointError
from gfvideo.engine.runner import DictAction, build_config, build_runner
from gfvideo.engine.validation import ConfigError, validate_config


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Test a gfvideo model')
    p.add_argument('config', help='config file path')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--work-dir', help='where logs go (default ./work_dirs/<config name>)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys, e.g. test_dataloader.dataset.ann_file=...')
    p.add_argument('--out', help='also write the metrics to this JSON file')
    p.add_argument('--budget', type=float, help='early exit at this mean GFLOPs per clip, with the thresholds '
                   'tools/report.py fitted for it (CHECKPOINT.exits.json); the nearest fitted budget is used')
    p.add_argument('--fuse', action='store_true',
                   help='fold batch norms into the convs and pre-pack CPU weights first (faster, same '
                        'predictions to float rounding)')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    tune_malloc()
    cfg = build_config(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options,
                       launcher=args.launcher, load_from=args.checkpoint)
    try:
        validate_config(cfg, 'test')
    except ConfigError as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(2)
    if args.budget is not None:
        try:
            budget, rule = load_thresholds(args.checkpoint, args.budget)
        except (FileNotFoundError, ValueError) as exc:  # no sidecar, or a damaged one (ThresholdsError)
            print(f'tools/test.py: {exc}', file=sys.stderr)
            sys.exit(2)
        cfg.model.exit_thresholds = rule.to_dict()  # the rule: thresholds, their score (and its head)
        print(f'early exit at budget {budget:.4g} GFLOPs: thresholds {rule.thresholds} (score {rule.score})')
    if args.fuse:
        cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='FuseForInferenceHook')]
    try:
        runner = build_runner(cfg)  # checks the checkpoint before testing
    except CheckpointError as exc:
        print(f'tools/test.py: {exc}', file=sys.stderr)
        sys.exit(2)
    metrics = runner.test()
    print(' '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}' for k, v in metrics.items()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(metrics, f, indent=2)


if __name__ == '__main__':
    main()
