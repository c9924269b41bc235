"""Real mmengine training through the command-line tools, checkpoints on disk (resume: test_training_safety.py, test_resume.py)."""
from __future__ import annotations

import json

import pytest
import torch

from .conftest import TINY_STATIC, run_tool, tiny_options

STATIC = 'configs/demo/tsm_static.py'


def test_train_then_test_cli(tiny_demo, trained, tmp_path):
    config, ckpt, extra = trained['gf']
    assert ckpt.endswith('epoch_1.pth')
    assert torch.load(ckpt, map_location='cpu', weights_only=True)['meta']['epoch'] == 1  # plain types only
    out = tmp_path / 'metrics.json'
    proc = run_tool('tools/test.py', config, ckpt, '--work-dir', str(tmp_path), '--out', str(out),
                    '--cfg-options', *tiny_options(tiny_demo), *extra)
    metrics = json.loads(out.read_text())
    assert 0 <= metrics['top1'] <= 100 and metrics['gflops'] > 0
    assert 'gflops=' in proc.stdout
    fused_out = tmp_path / 'fused.json'  # --fuse: the same predictions and costs, from the fused model
    proc = run_tool('tools/test.py', config, ckpt, '--fuse', '--work-dir', str(tmp_path / 'fused'),
                    '--out', str(fused_out), '--cfg-options', *tiny_options(tiny_demo), *extra)
    assert 'testing the model fused for inference' in proc.stdout + proc.stderr
    fused = json.loads(fused_out.read_text())
    assert fused['top1'] == metrics['top1'] and fused['gflops'] == pytest.approx(metrics['gflops'])


def test_broken_video_is_replaced_counted_and_training_goes_on(tiny_demo, tmp_path):
    import json
    import shutil
    data = tmp_path / 'demo'
    shutil.copytree(tiny_demo, data)
    first = json.loads((data / 'train.json').read_text())[0]['id']
    (data / 'videos' / f'{first}.webm').write_bytes(b'')          # a zero-byte video
    work = tmp_path / 'work'
    proc = run_tool('tools/train.py', STATIC, '--work-dir', str(work), '--cfg-options',
                    *tiny_options(data), *TINY_STATIC)
    log = proc.stdout + proc.stderr
    assert 'clips replaced because 1 videos could not be decoded' in log
    assert 'undecodable videos skipped during training: 1 files' in log
    assert (work / 'epoch_1.pth').exists()
