"""GFNet's three stages through tools/train.py: load_from chaining, frozen parts, PPO logs, 2 processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from .conftest import ROOT, TINY_GLANCE_FOCUS, TINY_NETWORKS as TINY, run_tool, tiny_options

STAGES = [f'configs/demo/gf_ppo_stage{i}.py' for i in (1, 2, 3)]


def state(path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def last(work) -> str:
    return (work / 'last_checkpoint').read_text().strip()


@pytest.fixture(scope='module')
def stage1(tiny_demo, tmp_path_factory):
    work = tmp_path_factory.mktemp('stage1')
    run_tool('tools/train.py', STAGES[0], '--work-dir', str(work), '--cfg-options', *tiny_options(tiny_demo), *TINY)
    return work


def test_stages_chain_through_load_from(tiny_demo, stage1, tmp_path):
    opts = [*tiny_options(tiny_demo), *TINY_GLANCE_FOCUS]
    s2, s3 = tmp_path / 's2', tmp_path / 's3'
    proc = run_tool('tools/train.py', STAGES[1], '--work-dir', str(s2), '--cfg-options', *opts,
                    f'load_from={stage1}')                      # a work dir: its newest checkpoint
    log = proc.stdout + proc.stderr
    for key in ('reward', 'value_loss', 'entropy', 'clip_fraction', 'approx_kl'):
        assert f'{key}: ' in log, key
    one, two = state(last(stage1)), state(last(s2))
    # frozen in stage 2: weights and batch-norm statistics exactly as stage 1 left them
    frozen = [k for k in one if k.split('.')[0] in ('glance', 'focus', 'aggregator', 'focus_head')]
    assert any('running_mean' in k for k in frozen)
    for key in frozen:
        assert torch.equal(one[key], two[key]), key
    assert any(k.startswith('policy.') for k in two)
    run_tool('tools/train.py', STAGES[2], '--work-dir', str(s3), '--cfg-options', *opts, f'load_from={s2}')
    three = state(last(s3))
    policy = [k for k in two if k.startswith('policy.')]
    assert all(torch.equal(two[k], three[k]) for k in policy)                  # frozen in stage 3
    assert not all(torch.equal(two[k], three[k]) for k in frozen if 'weight' in k)  # the networks trained
    out = tmp_path / 'metrics.json'
    run_tool('tools/test.py', STAGES[2], last(s3), '--work-dir', str(tmp_path / 't'), '--out', str(out),
             '--cfg-options', *opts)
    assert json.loads(out.read_text())['gflops'] > 0


def test_missing_stage_checkpoint_is_a_clear_error(tiny_demo, tmp_path):
    proc = subprocess.run([sys.executable, 'tools/train.py', STAGES[1], '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', *tiny_options(tiny_demo), f'load_from={tmp_path}'],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and 'without a last_checkpoint' in proc.stderr


@pytest.mark.parametrize('config', [STAGES[1], 'configs/demo/glance_focus_e2e.py'])
def test_two_process_gloo_training(config, tiny_demo, stage1, tmp_path):
    """torchrun --nproc_per_node=2 on CPU (gloo), for the PPO stage (a DDP module per trained
    part) and the end-to-end demo (one DDP model): training finishes, one checkpoint, which loads."""
    work = tmp_path / 'ddp'
    extra = [f'load_from={stage1}'] if config == STAGES[1] else []
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_port=29517',
           'tools/train.py', config, '--launcher', 'pytorch', '--work-dir', str(work), '--cfg-options',
           *tiny_options(tiny_demo, batch=2), *TINY_GLANCE_FOCUS, *extra]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = last(work)
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_1.pth']       # written once
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from gfvideo.registry import MODELS
    cfg = Config.fromfile(ROOT / config)
    options = [*TINY_GLANCE_FOCUS, 'model.input_size=64']
    cfg.merge_from_dict({k: int(v) for k, v in (a.split('=') for a in options)})
    with DefaultScope.overwrite_default_scope('gfvideo'):
        model = MODELS.build(cfg.model)
    missing = model.load_state_dict(state(ckpt), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
