"""Training that fails safely: non-finite losses stop it, checkpoints survive a kill, runs are recorded."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .conftest import ROOT, TINY_GLANCE_FOCUS, TINY_NETWORKS, TINY_STATIC, run_tool, tiny_options

STATIC = 'configs/demo/tsm_static.py'


def test_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(tiny_demo, tmp_path):
    """Epoch 2 runs at lr 1e30 (AdamW): its weights blow up, training stops naming the iteration,
    and epoch 1's checkpoint, still the one last_checkpoint names, loads."""
    config = tmp_path / 'exploding.py'
    config.write_text(f"_base_ = ['{ROOT / STATIC}']\n"
                      "param_scheduler = [dict(type='MultiStepLR', milestones=[1], gamma=1e33, by_epoch=True)]\n")
    work = tmp_path / 'work'
    proc = subprocess.run([sys.executable, 'tools/train.py', str(config), '--work-dir', str(work),
                           '--cfg-options', *tiny_options(tiny_demo, epochs=2), *TINY_STATIC],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith('FloatingPointError: training stopped at iteration'), proc.stderr[-3000:]
    iteration = int(re.search(r'iteration (\d+) \(epoch 2, iteration \d of the epoch\)', error).group(1))
    assert 4 < iteration <= 6  # 3 iterations per epoch: the first step at lr 1e30 is still finite
    assert 'epoch_1.pth' in error
    assert not (work / 'epoch_2.pth').exists()
    assert (work / 'last_checkpoint').read_text().strip() == str(work / 'epoch_1.pth')
    state = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_non_finite_loss_is_caught_after_the_iteration():
    """The loss check (what still stops AMP runs, whose scaler skips non-finite steps itself)."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub, MMLogger

    from gfvideo.engine import NonFiniteLossHook
    hook = NonFiniteLossHook()
    runner = SimpleNamespace(iter=6, epoch=1, message_hub=MessageHub.get_instance('test_non_finite_loss'),
                             logger=MMLogger.get_instance('test_non_finite_loss'))
    hook.before_train_iter(runner, 2)
    hook.after_train_iter(runner, 2, outputs=dict(loss=torch.tensor(0.5)))
    with pytest.raises(FloatingPointError, match=r'iteration 7 \(epoch 2, iteration 3 of the epoch\): loss is inf'):
        hook.after_train_iter(runner, 2, outputs=dict(loss=torch.tensor(float('inf'))))


def test_run_record_is_written(trained):
    """Every training run leaves run_record.json with what it takes to repeat it."""
    work = Path(trained['static'][1]).parent
    record = json.loads((work / 'run_record.json').read_text())
    for key in ('seed', 'config', 'versions', 'git', 'command', 'hostname', 'time'):
        assert key in record, key
    assert record['seed'] == 0
    assert record['config']['model']['type'] == 'StaticTSM'
    assert set(record['versions']) == {'torch', 'torchvision', 'mmengine', 'numpy', 'decord', 'av', 'gfvideo'}
    assert record['versions']['torch'] == torch.__version__.split('+')[0]
    assert set(record['git']) == {'commit', 'dirty'}
    if record['git']['commit'] is not None:  # a git checkout
        assert re.fullmatch(r'[0-9a-f]{40}', record['git']['commit'])
        assert isinstance(record['git']['dirty'], bool)
    assert 'tools/train.py' in ' '.join(record['command'])
    result = record['result']  # the final summary, also the log's last line
    assert result['last_checkpoint'].endswith('epoch_1.pth') and 0 <= result['best_top1'] <= 100
    assert result['best_epoch'] == 1


def test_atomic_write_failing_midway_keeps_the_old_file(tmp_path, monkeypatch):
    """A write that fails after the data went out (here: the sync) leaves the old file and no temporary."""
    from gfvideo.engine import atomic
    target = tmp_path / 'epoch_1.pth'
    torch.save({'w': torch.ones(3)}, target)
    before = target.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError('disk gone')
    monkeypatch.setattr(atomic.os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='disk gone'):
        atomic.AtomicLocalBackend().put(b'partial', target)
    assert target.read_bytes() == before
    assert list(tmp_path.iterdir()) == [target]  # the temporary file is gone
    assert torch.equal(torch.load(target, weights_only=True)['w'], torch.ones(3))


KILLER = '''
import os, runpy, signal, sys
real_fsync = os.fsync
hits = 0

def fsync_then_die(fd):
    """At the VICTIM_AT-th sync of the victim's temporary file: half of it reaches the disk, then SIGKILL."""
    global hits
    name = os.path.basename(os.readlink(f'/proc/self/fd/{fd}'))
    hits += name.startswith('.' + os.environ['VICTIM'] + '.')
    if hits == int(os.environ['VICTIM_AT']):
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        real_fsync(fd)
        os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)

os.fsync = fsync_then_die
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


@pytest.mark.parametrize('victim, at', [('epoch_2.pth', 1), ('last_checkpoint', 2)])
def test_kill_while_saving_leaves_the_previous_checkpoint_loadable(victim, at, tiny_demo, tmp_path):
    """SIGKILL halfway through writing epoch 2's checkpoint or its pointer: epoch 1's checkpoint
    and the pointer to it are intact, and --resume carries on from them. With max_keep_ckpts=1
    epoch 1's checkpoint is deleted only once epoch 2's and the pointer to it are complete."""
    killer = tmp_path / 'killer.py'
    killer.write_text(KILLER)
    work = tmp_path / 'work'
    opts = [*tiny_options(tiny_demo, epochs=2), *TINY_STATIC, 'default_hooks.checkpoint.max_keep_ckpts=1']
    proc = subprocess.run([sys.executable, str(killer), 'tools/train.py', STATIC, '--work-dir', str(work),
                           '--cfg-options', *opts], cwd=ROOT, capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, VICTIM=victim, VICTIM_AT=str(at)))
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert list(work.glob(f'.{victim}.*.tmp'))  # it died mid-write
    pointer = (work / 'last_checkpoint').read_text()
    assert pointer == str(work / 'epoch_1.pth')
    assert (work / 'epoch_2.pth').exists() == (victim == 'last_checkpoint')
    checkpoint = torch.load(pointer, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['epoch'] == 1
    run_tool('tools/train.py', STATIC, '--work-dir', str(work), '--resume', '--cfg-options', *opts)
    assert torch.load(work / 'epoch_2.pth', map_location='cpu', weights_only=True)['meta']['epoch'] == 2
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_2.pth')
    assert not (work / 'epoch_1.pth').exists()  # max_keep_ckpts=1, after the new one is in place


KILL_AFTER_POINTER = '''
import os, runpy, signal, sys
real_replace = os.replace
count = 0

def replace_then_maybe_die(src, dst):
    """SIGKILL right after the KILL_AT-th checkpoint is complete (its last_checkpoint pointer in place)."""
    global count
    real_replace(src, dst)
    if os.path.basename(dst) == 'last_checkpoint':
        count += 1
        if count == int(os.environ['KILL_AT']):
            os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace_then_maybe_die
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _final_weights(work) -> dict:
    return torch.load((work / 'last_checkpoint').read_text().strip(), map_location='cpu',
                      weights_only=True)['state_dict']


@pytest.mark.parametrize('mode, workers, by_epoch', [('static', 2, False), ('ppo', 0, False), ('static', 0, True)])
def test_sigkill_then_resume_auto_is_bit_identical(mode, workers, by_epoch, tiny_demo, tmp_path):
    """SIGKILL right after a complete checkpoint, then --resume auto: the final weights equal an
    uninterrupted run's. Iteration checkpoints every 2 of 3 batches per epoch, killed after
    iteration 4 (epoch 2, batch 1: the consumed samples are skipped without loading them), or
    epoch checkpoints, killed after epoch 1 (of 3). (A clean stop and ``--resume`` is the same
    path from the same checkpoint: the epoch-checkpoint case covers it.)"""
    if by_epoch:
        opts = tiny_options(tiny_demo, epochs=3, workers=workers)
    else:
        opts = [*tiny_options(tiny_demo, epochs=2, workers=workers),
                'default_hooks.checkpoint.by_epoch=False', 'default_hooks.checkpoint.interval=2']
    if mode == 'static':
        config, extra = STATIC, TINY_STATIC
    else:  # the PPO stage, from a stage-1 checkpoint
        stage1 = tmp_path / 'stage1'
        run_tool('tools/train.py', 'configs/demo/gf_ppo_stage1.py', '--work-dir', str(stage1), '--cfg-options',
                 *tiny_options(tiny_demo), *TINY_NETWORKS)
        config, extra = 'configs/demo/gf_ppo_stage2.py', [*TINY_GLANCE_FOCUS, f'load_from={stage1}']
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    run_tool('tools/train.py', config, '--work-dir', str(straight), '--cfg-options', *opts, *extra)
    killer = tmp_path / 'killer.py'
    killer.write_text(KILL_AFTER_POINTER)
    proc = subprocess.run([sys.executable, str(killer), 'tools/train.py', config, '--work-dir', str(killed),
                           '--cfg-options', *opts, *extra], cwd=ROOT, capture_output=True, text=True,
                          timeout=240, env=dict(os.environ, KILL_AT='1' if by_epoch else '2'))
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert (killed / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth' if by_epoch else 'iter_4.pth')
    resumed = run_tool('tools/train.py', config, '--work-dir', str(killed), '--resume', 'auto',
                       '--cfg-options', *opts, *extra)
    skipped = 'resuming epoch 2 at batch 2/3: 4 samples skipped without loading them'
    assert (skipped in resumed.stdout + resumed.stderr) == (not by_epoch)
    a, b = _final_weights(straight), _final_weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
