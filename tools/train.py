"""Train a model from a config: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]] ...``."""
from __future__ import annotations

import argparse
import sys

from gfvideo.runtime import tune_malloc
from gfvideo.engine.atomic import CheckpointWriteError
from gfvideo.engine.resume import CheckpointError
from gfvideo.engine.runner import DictAction, build_config, build_runner
from gfvideo.engine.validation import ConfigError, validate_config


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Train a gfvideo model')
    p.add_argument('config', help='config file path')
    p.add_argument('--work-dir', help='where logs and checkpoints go (default ./work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', const='auto', default=None, metavar='auto|PATH',
                   help='resume from the newest checkpoint in the work dir that loads (auto, the default; '
                        'damaged ones are skipped with a warning) or from PATH')
    p.add_argument('--load-from', help='initialise from this checkpoint (weights only, a new run)')
    p.add_argument('--amp', action='store_true', help='mixed precision (CUDA only)')
    p.add_argument('--seed', type=int, default=None, help='random seed (overrides the config)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys, e.g. train_dataloader.batch_size=8')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                   help='job launcher (pytorch = torchrun)')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    tune_malloc()
    try:
        cfg = build_config(args.config, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
                           cfg_options=args.cfg_options, launcher=args.launcher, seed=args.seed,
                           load_from=args.load_from)
        validate_config(cfg, 'train')
    except ConfigError as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(2)
    try:
        runner = build_runner(cfg)  # chooses and checks the checkpoint to resume or load from
    except CheckpointError as exc:
        print(f'tools/train.py: {exc}', file=sys.stderr)
        sys.exit(2)
    try:
        runner.train()
    except CheckpointWriteError as exc:
        print(f'tools/train.py: {exc}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
