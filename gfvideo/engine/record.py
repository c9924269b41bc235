"""``run_record.json``: what it takes to repeat a training run, written into its work dir as it starts."""
from __future__ import annotations

import datetime
import json
import os
import os.path as osp
import platform
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ..registry import HOOKS
from .atomic import atomic_write
from .resume import pointer_target

__all__ = ['RunRecordHook', 'run_record', 'git_state']

RECORD_FILE = 'run_record.json'
PACKAGES = ('torch', 'torchvision', 'mmengine', 'numpy', 'decord', 'av', 'gfvideo')


@HOOKS.register_module()
class RunRecordHook(Hook):
    """Write ``run_record.json`` (seed, resolved config, versions, git commit, command, host, time).

    A resumed run writes a new record and keeps the earlier ones under ``previous_runs``.
    At the end of training it logs one line with the last checkpoint and the best validation
    top-1 (and its epoch), and adds them to the record as ``result``.
    """

    priority = 'VERY_LOW'  # after the other hooks' before_train (e.g. RNG states restored)

    def __init__(self) -> None:
        self.best: tuple[float, int] | None = None

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        top1 = (metrics or {}).get('top1')
        if top1 is not None and (self.best is None or top1 > self.best[0]):
            self.best = (float(top1), runner.epoch)

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        last = pointer_target(runner.work_dir)
        best = (f'best val top-1 {self.best[0]:.2f}% (epoch {self.best[1]})' if self.best
                else 'no validation run')
        runner.logger.info(f'training finished: last checkpoint {last}; {best}')
        path = osp.join(runner.work_dir, RECORD_FILE)
        try:
            with open(path, encoding='utf-8') as f:
                record = json.load(f)
        except (OSError, ValueError):
            return
        record['result'] = dict(last_checkpoint=last, best_top1=self.best and self.best[0],
                                best_epoch=self.best and self.best[1])
        atomic_write(path, json.dumps(record, indent=2, default=str))

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        path = osp.join(runner.work_dir, RECORD_FILE)
        record = run_record(runner)
        try:
            with open(path, encoding='utf-8') as f:
                earlier = json.load(f)
            record['previous_runs'] = earlier.pop('previous_runs', []) + [earlier]
        except (OSError, ValueError):
            pass
        atomic_write(path, json.dumps(record, indent=2, default=str))


def run_record(runner) -> dict[str, Any]:
    """The record of ``runner``'s run, JSON-serialisable (unusual config values become strings)."""
    cfg = runner.cfg
    try:
        config_text = cfg.pretty_text
    except Exception:  # pretty_text formats with yapf, which rejects some configs
        config_text = None
    train_dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    return dict(
        seed=runner.seed,
        data_seed=train_dataset.get('seed'),
        deterministic=(cfg.get('randomness') or {}).get('deterministic'),
        config=json.loads(json.dumps(cfg.to_dict(), default=str)),
        config_text=config_text,
        config_file=cfg.filename,
        versions={name: _version(name) for name in PACKAGES},
        python=platform.python_version(),
        git=git_state(),
        command=[sys.executable, *sys.argv],
        cwd=os.getcwd(),
        hostname=socket.gethostname(),
        time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        work_dir=osp.abspath(runner.work_dir),
        resumed=bool(cfg.get('resume')),
        load_from=cfg.get('load_from'),
    )


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_state() -> dict[str, Any]:
    """``commit`` and ``dirty`` (uncommitted changes to tracked files) of the gfvideo checkout.

    Both are None where gfvideo isn't a git checkout or git isn't installed. Read-only: git
    is told not to refresh its index (``GIT_OPTIONAL_LOCKS=0``).
    """
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))  # .../gfvideo/engine/record.py
    state: dict[str, Any] = dict(commit=None, dirty=None)
    if not osp.exists(osp.join(root, '.git')):
        return state
    env = dict(os.environ, GIT_OPTIONAL_LOCKS='0')

    def git(*args: str) -> str:
        return subprocess.run(['git', '-C', root, *args], capture_output=True, text=True, check=True,
                              timeout=30, env=env).stdout

    try:
        state['commit'] = git('rev-parse', 'HEAD').strip()
        state['dirty'] = bool(git('status', '--porcelain', '--untracked-files=no').strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return state
