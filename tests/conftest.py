"""Shared fixtures: a tiny demo dataset on disk and config overrides that shrink the models."""
from __future__ import annotations

from pathlib import Path

import pytest

from gfvideo.data.demo import make_demo_dataset

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='session')
def tiny_demo(tmp_path_factory) -> Path:
    """12 train / 12 val / 12 test clips of 8 frames at 64x64, real VP9 files."""
    out = tmp_path_factory.mktemp('demo')
    make_demo_dataset(out, seed=0, num_train=12, num_val=12, num_test=12, frames=8, size=64, workers=0)
    return out


def tiny_options(data: Path, *, epochs: int = 1, workers: int = 0, batch: int = 4) -> list[str]:
    """``--cfg-options`` that point a demo config at ``data`` and make it tiny and quick."""
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.ann_file={data}/{split}.json',
                 f'{split}_dataloader.dataset.data_prefix={data}/videos',
                 f'{split}_dataloader.dataset.labels_file={data}/labels.json',
                 f'{split}_dataloader.num_workers={workers}',
                 f'{split}_dataloader.batch_size={batch}']
    for split in ('val', 'test'):  # the test pipeline's resize and crop to the model's 64
        opts += [f'{split}_dataloader.dataset.pipeline.0.scale=64',
                 f'{split}_dataloader.dataset.pipeline.1.size=64']
    opts += [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
             'model.input_size=64', 'default_hooks.logger.interval=1']
    return opts


# The glance-and-focus networks shrunk; the policy's width is added where the policy has one.
TINY_NETWORKS = ['model.glance.size=32', 'model.glance.width=8', 'model.focus.patch=24',
                 'model.focus.width=8', 'model.aggregator.hidden=16']
TINY_GLANCE_FOCUS = [*TINY_NETWORKS, 'model.policy.hidden=8']
TINY_STATIC = ['model.backbone.width=8']


def run_tool(*args: str, timeout: int = 240):
    """Run a command-line tool as a user would; fail with its output if it fails."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='session')
def trained(tiny_demo, tmp_path_factory) -> dict:
    """One epoch of each demo config on the tiny data, through tools/train.py: checkpoint paths."""
    work = tmp_path_factory.mktemp('trained')
    out = {}
    for name, config, extra in (('gf', 'configs/demo/glance_focus_e2e.py', TINY_GLANCE_FOCUS),
                                ('static', 'configs/demo/tsm_static.py', TINY_STATIC)):
        run_tool('tools/train.py', config, '--work-dir', str(work / name), '--cfg-options',
                 *tiny_options(tiny_demo), *extra)
        out[name] = (config, (work / name / 'last_checkpoint').read_text().strip(), extra)
    return out
