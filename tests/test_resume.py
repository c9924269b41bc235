"""Resuming from a damaged, copied or moved work dir, damaged sidecars, and a checkpoint write that fails.

Most runs go through the tools' ``main`` in this process (as ``python tools/X.py ARGS``
would, minus the interpreter start-up); each gets its own ``experiment_name`` so that
mmengine's per-run singletons (logger, message hub) are not shared. One case runs the
command line itself. Training is 2 epochs of the tiny static TSM, shared by all tests.
Resuming is bit-identical, so a resumed run's final weights equal those of any correct
resume; which file was used is checked in the log, and by weights where the wrong file
would hold other weights.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from gfvideo.engine.resume import pointer_target, resume_candidates

from .conftest import ROOT, TINY_STATIC, tiny_options

STATIC = str(ROOT / 'configs/demo/tsm_static.py')
TRUNCATED_REASON = ('truncated or not a PyTorch checkpoint (PytorchStreamReader failed reading zip archive: '
                    'failed finding central directory)')
_runs = itertools.count()


def tool(name: str, *args: str) -> int:
    """Run ``tools/NAME ARGS`` in this process; its exit status."""
    with mock.patch.object(sys, 'argv', [f'tools/{name}', *map(str, args)]):
        try:
            runpy.run_path(str(ROOT / 'tools' / name), run_name='__main__')
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
    return 0


def train(data: Path, work: Path, *args: str, epochs: int = 3) -> int:
    """tools/train.py on the tiny static TSM for ``epochs`` epochs in all."""
    return tool('train.py', STATIC, '--work-dir', work, *args, '--cfg-options', *tiny_options(data, epochs=epochs),
                *TINY_STATIC, f'experiment_name=resume{next(_runs)}')


def weights(work: Path) -> dict:
    """The state dict of the checkpoint ``work``'s pointer names."""
    return torch.load(pointer_target(work), map_location='cpu', weights_only=True)['state_dict']


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ''


def halve_weights(path: Path) -> None:
    """Rewrite the checkpoint at ``path`` with its floating-point weights halved: valid, but other weights."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    ckpt['state_dict'] = {k: v / 2 if v.is_floating_point() else v for k, v in ckpt['state_dict'].items()}
    torch.save(ckpt, path)


def foreign(path: Path) -> None:
    """Rewrite the checkpoint at ``path`` as if a model with a wider first conv had saved it."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    key = next(k for k, v in ckpt['state_dict'].items() if v.dim() == 4)
    ckpt['state_dict'][key] = torch.zeros(ckpt['state_dict'][key].shape[0] + 1, *ckpt['state_dict'][key].shape[1:])
    torch.save(ckpt, path)


@pytest.fixture(scope='module')
def base(tiny_demo, tmp_path_factory) -> Path:
    """A work dir after 2 epochs: epoch_1.pth, epoch_2.pth, last_checkpoint -> epoch_2.pth (absolute path)."""
    work = tmp_path_factory.mktemp('resume') / 'base'
    assert train(tiny_demo, work, epochs=2) == 0
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_2.pth')
    return work


@pytest.fixture(scope='module')
def reference(base, tiny_demo, tmp_path_factory) -> dict:
    """Final weights (3 epochs) of runs resumed explicitly from epoch_1.pth and from epoch_2.pth."""
    out = {}
    for epoch in (1, 2):
        work = tmp_path_factory.mktemp('reference') / 'work'
        shutil.copytree(base, work)
        assert train(tiny_demo, work, '--resume', work / f'epoch_{epoch}.pth') == 0
        out[epoch] = weights(work)
    return out


@pytest.fixture
def work(base, tmp_path) -> Path:
    """A private copy of the 2-epoch work dir."""
    shutil.copytree(base, tmp_path / 'work')
    return tmp_path / 'work'


def test_pointer_and_candidates(tmp_path):
    """The pointer resolves to the work dir's own file of its name; older numbered files follow."""
    for name in ('epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth', 'epoch_9.pth', 'best_top1_epoch_2.pth'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text('/gone/elsewhere/epoch_3.pth')  # an old, absolute pointer
    assert pointer_target(tmp_path) == str(tmp_path / 'epoch_3.pth')
    # epoch_9.pth (an earlier run, or a save whose pointer didn't follow) is never taken
    assert resume_candidates(tmp_path) == [str(tmp_path / f'epoch_{i}.pth') for i in (3, 2, 1)]
    (tmp_path / 'last_checkpoint').write_text('/gone/elsewhere/epoch_5.pth')
    assert pointer_target(tmp_path) == '/gone/elsewhere/epoch_5.pth'  # no such file here: as written
    (tmp_path / 'last_checkpoint').write_text('')
    assert pointer_target(tmp_path) is None
    assert resume_candidates(tmp_path) == [str(tmp_path / f'epoch_{i}.pth') for i in (9, 3, 2, 1)]


@pytest.mark.parametrize('damage, reason', [('truncated', TRUNCATED_REASON), ('empty', 'empty file (0 bytes)')])
def test_damaged_newest_is_skipped(damage, reason, work, tiny_demo, reference, capsys):
    """--resume auto with the newest checkpoint cut to 100 kB or to 0 bytes: one warning naming
    it and why, then the run continues from epoch_1.pth exactly as resuming from it explicitly."""
    newest = work / 'epoch_2.pth'
    newest.write_bytes(newest.read_bytes()[:100_000] if damage == 'truncated' else b'')
    assert train(tiny_demo, work, '--resume', 'auto') == 0
    log = capsys.readouterr()
    skipped = [line for line in (log.out + log.err).splitlines() if 'skipping' in line]
    assert len(skipped) == 1 and skipped[0].endswith(f'WARNING - --resume: skipping {newest}: {reason}')
    assert f'--resume: continuing from {work / "epoch_1.pth"}' in log.out + log.err
    assert_same(weights(work), reference[1])


def test_nothing_loads_is_one_line_and_status_2(work, tiny_demo):
    """The command line itself: newest empty, the other saved by another model: a warning for each,
    then one line, exit status 2, no traceback; --resume alone means auto."""
    (work / 'epoch_2.pth').write_bytes(b'')
    foreign(work / 'epoch_1.pth')
    proc = subprocess.run([sys.executable, 'tools/train.py', STATIC, '--work-dir', str(work), '--resume',
                           '--cfg-options', *tiny_options(tiny_demo), *TINY_STATIC],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f'tools/train.py: cannot resume: {work}: none of its 2 '
                                                    f'checkpoints loads (epoch_2.pth, epoch_1.pth)')
    log = proc.stdout + proc.stderr
    assert f'--resume: skipping {work / "epoch_2.pth"}: empty file (0 bytes)' in log
    assert f'--resume: skipping {work / "epoch_1.pth"}: saved by a different model: 1 shape mismatches' in log


@pytest.mark.parametrize('flag, action', [('--resume', 'resume'), ('--load-from', 'load'), ('test.py', 'load')])
def test_explicit_damaged_checkpoint_is_one_line_and_status_2(flag, action, work, tiny_demo, capsys):
    """tools/train.py --resume PATH / --load-from PATH, tools/test.py PATH with a truncated file."""
    damaged = work / 'epoch_2.pth'
    damaged.write_bytes(damaged.read_bytes()[:100_000])
    if flag == 'test.py':
        status = tool('test.py', STATIC, damaged, '--work-dir', work / 'new', '--cfg-options',
                      *tiny_options(tiny_demo), *TINY_STATIC)
    else:
        status = train(tiny_demo, work / 'new', flag, damaged)
    assert status == 2
    prefix = 'tools/test.py' if flag == 'test.py' else 'tools/train.py'
    assert last_line(capsys.readouterr().err) == f'{prefix}: cannot {action}: {damaged}: {TRUNCATED_REASON}'
    assert not (work / 'new' / 'epoch_1.pth').exists()


@pytest.mark.parametrize('original', ['deleted', 'present'])
def test_copied_work_dir_resumes_from_its_own_checkpoints(original, base, tiny_demo, reference, tmp_path, capsys):
    """A work dir copied elsewhere keeps a pointer to the original's epoch_2.pth: the copy's own
    epoch_2.pth is used, whether the original is gone or still there (here with other weights,
    so resuming from it would end with other weights)."""
    orig, copy = tmp_path / 'orig', tmp_path / 'copy'
    shutil.copytree(base, orig)
    (orig / 'last_checkpoint').write_text(str(orig / 'epoch_2.pth'))  # as if trained there
    shutil.copytree(orig, copy)
    if original == 'deleted':
        shutil.rmtree(orig)
    else:
        halve_weights(orig / 'epoch_2.pth')
    assert (copy / 'last_checkpoint').read_text() == str(orig / 'epoch_2.pth')
    assert train(tiny_demo, copy, '--resume') == 0
    log = capsys.readouterr()
    assert f'--resume: continuing from {copy / "epoch_2.pth"}' in log.out + log.err
    assert (copy / 'last_checkpoint').read_text() == str(copy / 'epoch_3.pth')
    assert_same(weights(copy), reference[2])


@pytest.mark.parametrize('name', ['test.py', 'infer.py'])
def test_damaged_thresholds_sidecar_is_one_line_and_status_2(name, base, tiny_demo, tmp_path, capsys):
    ckpt = tmp_path / 'model.pth'
    shutil.copy(base / 'epoch_2.pth', ckpt)
    sidecar = tmp_path / 'model.exits.json'
    text = '{"0.01": [0.0, 0.'  # cut short mid-write
    sidecar.write_text(text)
    with pytest.raises(ValueError) as parse_error:
        json.loads(text)
    args = ([ckpt, '--work-dir', tmp_path / 'test'] if name == 'test.py' else [ckpt, tiny_demo / 'none.webm'])
    assert tool(name, STATIC, *args, '--budget', '0.01',
                '--cfg-options', *tiny_options(tiny_demo), *TINY_STATIC) == 2
    prefix = 'tools/test.py' if name == 'test.py' else 'error'
    assert last_line(capsys.readouterr().err) == (
        f'{prefix}: {sidecar}: not a thresholds file (JSONDecodeError: {parse_error.value}); '
        f'rerun tools/report.py on this checkpoint')
    sidecar.write_text(json.dumps([0.5, 0.0]))  # valid JSON, not {budget: thresholds}
    assert tool(name, STATIC, *args, '--budget', '0.01', '--cfg-options', *tiny_options(tiny_demo), *TINY_STATIC) == 2
    assert last_line(capsys.readouterr().err).startswith(f'{prefix}: {sidecar}: not a thresholds file (')


@pytest.mark.parametrize('victim', ['epoch_3.pth', 'last_checkpoint'])
def test_failed_checkpoint_write_stops_with_one_line(victim, work, tiny_demo, monkeypatch, capsys):
    """No space left while writing epoch 3's checkpoint or the pointer to it: one line naming the
    file and the OS error, exit status 1; epoch_2.pth and the pointer are as they were."""
    from gfvideo.engine import atomic
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.basename(os.readlink(f'/proc/self/fd/{fd}')).startswith(f'.{victim}.'):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    before = {name: (work / name).read_bytes() for name in ('epoch_2.pth', 'last_checkpoint')}
    monkeypatch.setattr(atomic.os, 'fsync', fsync)
    assert train(tiny_demo, work, '--resume') == 1
    assert last_line(capsys.readouterr().err) == (
        f'tools/train.py: cannot save checkpoint: {work / victim}: No space left on device (ENOSPC); '
        f'training stopped, earlier checkpoints and last_checkpoint left as they were')
    assert {name: (work / name).read_bytes() for name in before} == before
    assert (work / 'epoch_3.pth').exists() == (victim == 'last_checkpoint')  # complete, but not pointed to
    assert not list(work.glob('.*.tmp'))
