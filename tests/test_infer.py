"""tools/infer.py and gfvideo.inference: one video in, one JSON prediction (and a picture) out."""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from gfvideo.compute.exit_scores import NUM_FEATURES, ExitRule
from gfvideo.compute.exits import load_thresholds, sidecar_json, sidecar_path
from gfvideo.data import ClipSource, build_pipeline
from gfvideo.data.decoding import DecodeError
from gfvideo.data.encoding import write_video
from gfvideo.data.sampling import segment_indices
from gfvideo.engine.validation import ConfigError
from gfvideo.engine.runner import DictAction
from gfvideo.inference import _class_names, infer_video, load_clip, load_model
from gfvideo.models.fuse import FusedConv2d

from .conftest import ROOT, run_tool, tiny_options

PNG = b'\x89PNG\r\n\x1a\n'


def infer_cli(*args: str) -> subprocess.CompletedProcess:
    """Run tools/infer.py as a user would (status not checked)."""
    return subprocess.run([sys.executable, 'tools/infer.py', *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=240)


def as_cfg_options(opts: list[str]) -> dict:
    """``key=value`` strings parsed exactly as the tools' ``--cfg-options`` parse them."""
    p = argparse.ArgumentParser()
    p.add_argument('--o', nargs='+', action=DictAction)
    return p.parse_args(['--o', *opts]).o


@pytest.fixture(scope='module')
def gf_model(tiny_demo, trained):
    config, ckpt, extra = trained['gf']
    return load_model(config, ckpt, 'cpu', as_cfg_options(tiny_options(tiny_demo) + extra))


@pytest.fixture(scope='module')
def budget_ckpt(trained, tmp_path_factory):
    """A copy of the glance-focus checkpoint with a hand-written thresholds sidecar."""
    config, ckpt, extra = trained['gf']
    copy = tmp_path_factory.mktemp('budget') / 'gf.pth'
    shutil.copy(ckpt, copy)
    # budget 0.01: everyone leaves at the glance; 0.02: after step 1; 1.0: never early
    sidecar_path(copy).write_text(json.dumps({'0.01': [0.0, 0.0, 0.0], '0.02': [2.0, 0.0, 0.0],
                                              '1.0': [2.0, 2.0, 0.0]}))
    return config, str(copy), extra


def first_video(tiny_demo) -> str:
    return str(sorted((tiny_demo / 'videos').iterdir())[0])


def test_cli_json_picture_and_budget(tiny_demo, budget_ckpt, tmp_path):
    config, ckpt, extra = budget_ckpt
    video = first_video(tiny_demo)
    out = tmp_path / 'out'
    proc = infer_cli(config, ckpt, video, '--out', str(out), '--budget', '0.021', '--device', 'cpu',
                     '--cfg-options', *tiny_options(tiny_demo), *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # stdout is the JSON object alone
    assert result['video'] == video and result['num_frames_in_video'] == 8
    assert result['sampled_frames'] == segment_indices(8, 4, random=False).tolist() == [1, 3, 5, 7]
    top5 = result['top5']
    assert len(top5) == 5 and all(isinstance(t['class'], int) and isinstance(t['name'], str) for t in top5)
    probs = [t['probability'] for t in top5]
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs) and sum(probs) <= 1 + 1e-6
    labels = json.loads((tiny_demo / 'labels.json').read_text())
    assert top5[0]['name'] in labels  # names from the checkpoint's dataset_meta
    # the sidecar's thresholds for the nearest budget (0.02) send the clip out after step 1
    assert result['budget'] == 0.02 and result['thresholds'] == [2.0, 0.0, 0.0]
    assert result['exit'] == 1 and len(result['confidences']) == 2 and len(result['looks']) == 1
    assert isinstance(result['gflops'], float) and result['gflops'] > 0
    assert isinstance(result['wall_time_s'], float) and result['wall_time_s'] > 0
    h, w = result['frame_hw']
    for look in result['looks']:
        assert len(look['frames']) == len(look['video_frames']) == len(look['boxes']) == 2
        assert look['video_frames'] == [result['sampled_frames'][f] for f in look['frames']]
        for x0, y0, x1, y1 in look['boxes']:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    stem = (tiny_demo / 'videos' / video).stem
    assert (out / f'{stem}_focus.png').read_bytes()[:8] == PNG
    assert (out / f'{stem}_focus.gif').read_bytes()[:6] in (b'GIF89a', b'GIF87a')
    assert json.loads((out / f'{stem}.json').read_text())['top5'] == top5


@pytest.mark.parametrize('kind', ['corrupt', 'missing'])
def test_cli_undecodable_video(tiny_demo, trained, tmp_path, kind):
    config, ckpt, extra = trained['gf']
    video = tmp_path / 'bad.mp4'
    if kind == 'corrupt':
        video.write_bytes(np.random.default_rng(0).integers(0, 256, 100, dtype=np.uint8).tobytes())
    proc = infer_cli(config, ckpt, str(video), '--device', 'cpu',
                     '--cfg-options', *tiny_options(tiny_demo), *extra)
    assert proc.returncode != 0 and proc.stdout == ''
    assert 'Traceback' not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith(f'error: cannot decode {video}: ')
    if kind == 'missing':
        assert lines[-1].endswith('file not found')


def test_cli_truncated_checkpoint(tiny_demo, trained, tmp_path):
    """A checkpoint cut short (a failed copy): one line naming it, exit status 2, no traceback."""
    config, ckpt, extra = trained['gf']
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(open(ckpt, 'rb').read()[:20000])
    proc = infer_cli(config, str(cut), str(tiny_demo / 'videos' / 'missing.webm'), '--device', 'cpu',
                     '--cfg-options', *tiny_options(tiny_demo), *extra)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f'error: cannot load: {cut}: truncated')


def test_two_frame_video_repeats_frames(gf_model, tmp_path):
    model, cfg, names = gf_model
    frames = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    video = write_video(tmp_path / 'two.webm', frames)
    result = infer_video(model, cfg, video, class_names=names)
    assert result['num_frames_in_video'] == 2 and result['sampled_frames'] == [0, 0, 1, 1]
    assert result['exit'] == model.num_exits - 1 and len(result['looks']) == model.num_steps
    assert result['gflops'] == pytest.approx(model.exit_costs()[-1])


def _test_split(cfg, tiny_demo, tmp_path, entry: str, **dataset) -> tuple:
    """A copy of ``cfg`` whose test split is a list file of a demo clip then ``entry``,
    with ``dataset`` keys changed; and that test dataset, built as tools/test.py builds it."""
    from mmengine.registry import DefaultScope

    from gfvideo.registry import DATASETS
    cfg = copy.deepcopy(cfg)
    first = (tiny_demo / 'test.txt').read_text().splitlines()[0]
    (tmp_path / 'list.txt').write_text(f'{tiny_demo / first.split()[0]} 0\n{entry}\n')
    cfg.test_dataloader.dataset.update(ann_format='list', ann_file=str(tmp_path / 'list.txt'), data_prefix='',
                                       labels_file=None, class_names_file=str(tiny_demo / 'classes.txt'), **dataset)
    with DefaultScope.overwrite_default_scope('gfvideo'):
        return cfg, DATASETS.build(cfg.test_dataloader.dataset)


THREE_CROP = [dict(type='Resize', scale=(-1, 64)), dict(type='ThreeCrop', size=64), dict(type='FormatShape')]


@pytest.mark.parametrize('kind, dataset', [
    ('frame folder', {}),
    ('video', dict(sampling='dense', dense_interval=2)),
    ('video', dict(twice_sample=True, pipeline=THREE_CROP)),
], ids=['frame folder', 'dense', 'twice sample x three crops'])
def test_load_clip_is_the_test_datasets_clip(gf_model, tiny_demo, tmp_path, kind, dataset):
    """tools/infer.py's clip of a file is the test dataset's clip of it: same frames, views and pixels."""
    _, cfg, _ = gf_model
    video = first_video(tiny_demo)
    path = video
    if kind == 'frame folder':
        from PIL import Image
        path = tmp_path / 'frames'
        path.mkdir()
        for i, frame in enumerate(ClipSource(video).read(range(8)), start=1):
            Image.fromarray(frame).save(path / f'{i:05d}.jpg')
    cfg, test_set = _test_split(cfg, tiny_demo, tmp_path, f'{path} 8 3' if kind == 'frame folder' else f'{path} 3',
                                **dataset)
    clip, sample = load_clip(cfg, 4, path), test_set[1]
    assert torch.equal(clip.inputs, sample['inputs'])
    assert clip.frame_inds.tolist() == sample['frame_inds'].tolist() and clip.num_views == sample['num_views']
    assert clip.num_frames == 8
    if 'sampling' in dataset:
        assert clip.frame_inds.tolist() == [0, 2, 4, 6]          # a centred window, stride 2
    if 'twice_sample' in dataset:
        assert clip.num_views == 6 and clip.inputs.shape == (24, 3, 64, 64)
        assert clip.slot_frame_inds.tolist() == [1, 3, 5, 7, 0, 2, 4, 6] * 3   # centres, starts; 3 crops


def test_load_clip_refuses_a_test_split_that_does_not_fit_the_model(gf_model, tiny_demo):
    _, cfg, _ = gf_model
    with pytest.raises(ConfigError, match=r'test_dataloader\.dataset\.num_segments=4 but model\.num_frames=8'):
        load_clip(cfg, 8, first_video(tiny_demo))


def test_wide_video_is_resized_as_the_test_pipeline_says(gf_model, tmp_path):
    """A 640x272 video: the model sees the test pipeline's 64x64 frames (short side resized,
    centre cropped), exactly what it sees from a copy resized that way beforehand (lossless)."""
    model, cfg, names = gf_model
    y, x = np.mgrid[:272, :640]
    t = np.arange(8)[:, None, None]
    frames = np.stack([(x[None] + 9 * t) % 256, (y[None] * 2 + 5 * t) % 256, (x + y)[None] % 256 + 0 * t], -1)
    wide = write_video(tmp_path / 'wide.mp4', frames.astype(np.uint8), codec='h264')
    decoded = ClipSource(wide).read(range(8))
    made = build_pipeline(cfg.test_dataloader.dataset.pipeline[:-1])(dict(imgs=decoded))['imgs']
    assert made.shape == (8, 64, 64, 3)
    copy_ = write_video(tmp_path / 'resized.mkv', np.ascontiguousarray(made), codec='ffv1')
    a, b = load_clip(cfg, 4, wide), load_clip(cfg, 4, copy_)
    assert a.inputs.shape == (4, 3, 64, 64) and torch.equal(a.inputs, b.inputs)
    ra, rb = (infer_video(model, cfg, v, class_names=names) for v in (wide, copy_))
    for r in (ra, rb):
        del r['video'], r['wall_time_s']
    assert ra == rb and ra['frame_hw'] == [64, 64]


def test_thresholds_and_exits(gf_model, budget_ckpt, tiny_demo):
    model, cfg, names = gf_model
    video = first_video(tiny_demo)
    assert load_thresholds(budget_ckpt[1], 0.0) == (0.01, ExitRule([0.0, 0.0, 0.0]))  # old sidecar: max-prob
    assert load_thresholds(budget_ckpt[1], 5.0) == (1.0, ExitRule([2.0, 2.0, 0.0]))
    with pytest.raises(FileNotFoundError, match='tools/report.py'):
        load_thresholds(str(tiny_demo / 'none.pth'), 0.01)
    glance_only = infer_video(model, cfg, video, [0.0, 0.0, 0.0], names)
    assert glance_only['exit'] == 0 and glance_only['looks'] == []
    assert glance_only['gflops'] == pytest.approx(model.exit_costs()[0])
    full = infer_video(model, cfg, video, None, names)
    assert full['exit'] == model.num_exits - 1 and full['gflops'] == pytest.approx(model.exit_costs()[-1])
    assert model.exit_thresholds is None  # the model's own setting is left alone


def test_static_tsm(tiny_demo, trained):
    config, ckpt, extra = trained['static']
    model, cfg, names = load_model(config, ckpt, 'cpu', as_cfg_options(tiny_options(tiny_demo) + extra))
    result = infer_video(model, cfg, first_video(tiny_demo), class_names=names)
    assert result['exit'] == 0 and result['looks'] == [] and result['num_exits'] == 1
    assert result['gflops'] == pytest.approx(model.gflops())
    assert sum(t['probability'] for t in result['top5']) <= 1 + 1e-6


def test_zero_byte_and_class_name_fallbacks(gf_model, tiny_demo, tmp_path):
    model, cfg, names = gf_model
    empty = tmp_path / 'empty.webm'
    empty.write_bytes(b'')
    with pytest.raises(DecodeError, match='zero-byte'):
        load_clip(cfg, 4, empty)
    labels = json.loads((tiny_demo / 'labels.json').read_text())
    by_index = sorted(labels, key=lambda k: int(labels[k]))
    assert _class_names({}, cfg, 12) == by_index          # no dataset_meta: the config's labels file
    cfg_missing = copy.deepcopy(cfg)
    cfg_missing.test_dataloader.dataset.labels_file = str(tmp_path / 'nope.json')
    assert _class_names({'meta': {}}, cfg_missing, 3) == ['0', '1', '2']  # nothing readable: indices
    assert names == by_index
    assert torch.is_tensor(load_clip(cfg, 4, first_video(tiny_demo)).inputs)


def test_test_tool_budget_uses_shared_sidecar_logic(tiny_demo, budget_ckpt, tmp_path):
    """tools/test.py --budget reads the same sidecar through gfvideo.compute.exits.load_thresholds."""
    config, ckpt, extra = budget_ckpt
    proc = run_tool('tools/test.py', config, ckpt, '--budget', '0.0', '--work-dir', str(tmp_path),
                    '--cfg-options', *tiny_options(tiny_demo), *extra)
    assert 'early exit at budget 0.01 GFLOPs: thresholds [0.0, 0.0, 0.0]' in proc.stdout
    assert re.search(r'\bmean_exit=0(\s|$)', proc.stdout)  # every clip left at the glance


@pytest.fixture(scope='module')
def learned_ckpt(budget_ckpt, tmp_path_factory):
    """A checkpoint copy whose sidecar holds thresholds on a learned exit score: a head whose
    exit-0 score is sigmoid(9) for every clip, above its threshold (everyone leaves at the
    glance), where no 12-class max-prob of a one-epoch model gets near 0.9998."""
    config, ckpt, extra = budget_ckpt
    copy = tmp_path_factory.mktemp('learned') / 'gf.pth'
    shutil.copy(ckpt, copy)
    head = [[0.0] * NUM_FEATURES + [9.0], [0.0] * NUM_FEATURES + [-9.0], [0.0] * NUM_FEATURES + [0.0]]
    sidecar_path(copy).write_text(sidecar_json({0.01: ExitRule([0.9998, 0.5, 0.0], 'learned', head)}, 'optimal'))
    return config, str(copy), extra


def test_learned_sidecar_round_trips_through_test_and_infer(tiny_demo, learned_ckpt, gf_model, tmp_path):
    config, ckpt, extra = learned_ckpt
    budget, rule = load_thresholds(ckpt, 0.01)
    assert rule.score == 'learned' and rule.head[0][-1] == 9.0
    proc = run_tool('tools/test.py', config, ckpt, '--budget', '0.01', '--work-dir', str(tmp_path),
                    '--cfg-options', *tiny_options(tiny_demo), *extra)
    assert 'thresholds [0.9998, 0.5, 0.0] (score learned)' in proc.stdout
    assert re.search(r'\bmean_exit=0(\s|$)', proc.stdout)      # the head's score, not max-prob, decided
    model, cfg, names = gf_model
    result = infer_video(model, cfg, first_video(tiny_demo), rule, names)
    assert result['exit'] == 0 and result['exit_score'] == 'learned' and result['thresholds'] == rule.thresholds
    assert max(result['confidences']) < 0.9998                   # max-prob alone would not have left


@pytest.mark.parametrize('name, files', [('gf', ['glance.onnx', 'focus.onnx']), ('static', ['static_tsm.onnx'])])
def test_onnx_export_matches_pytorch(trained, tmp_path, name, files):
    config, ckpt, extra = trained[name]
    proc = run_tool('tools/export_onnx.py', config, ckpt, '--out', str(tmp_path),
                    '--cfg-options', *extra, 'model.input_size=64')
    exported = json.loads(proc.stdout[proc.stdout.index('['):])
    assert [os.path.basename(e['path']) for e in exported] == files
    for e in exported:
        assert os.path.getsize(e['path']) > 0 and e['max_abs_diff'] < 1e-4, e


def test_latency_benchmark_quick_runs():
    proc = run_tool('benchmarks/latency.py', '--quick', timeout=300)
    lines = proc.stdout.splitlines()
    rows = [[c.strip() for c in line.split('|')[1:-1]] for line in lines if line.startswith('| cpu')]
    assert len(rows) == 2 * (1 + 3 * 2)                    # 2 batches x (static + 3 patches x 2 exit settings)
    for batch in sorted({r[1] for r in rows}):
        table = [r for r in rows if r[1] == batch]
        static_gflops, static_ms = float(table[0][4]), float(table[0][5])
        full = {r[2]: float(r[4]) for r in table if r[3] == 'none'}
        for _, _, model, exits, gflops, ms, time_ratio, flops_ratio, _ in table[1:]:
            assert float(flops_ratio) == pytest.approx(float(gflops) / static_gflops, rel=0.05, abs=2e-3)  # 3 decimals
            assert float(time_ratio) == pytest.approx(float(ms) / static_ms, rel=0.05, abs=2e-3)
            if exits == 'budget 50%':  # real early exit ran: cheaper than no exit
                assert float(gflops) < full[model]
    parts = [line for line in lines if line.startswith('| p')]       # the per-component table, two patches
    assert [p.split('|')[1].strip() for p in parts] == ['p24', 'p32']
    scaling = [line for line in lines if line[:4] in ('| 1 ', '| 2 ')]  # step 1 on 1 and on 2 of 2 rows
    assert len(scaling) == 2 and float(scaling[1].split('|')[3]) == pytest.approx(1.0)


def test_fused_model_predicts_what_the_trained_model_predicts(gf_model, tiny_demo, trained):
    """load_model(fuse=True), what tools/infer.py does (batch norm folded, CPU weights pre-packed): same answer."""
    plain, cfg, names = gf_model
    config, ckpt, extra = trained['gf']
    model, _, _ = load_model(config, ckpt, 'cpu', as_cfg_options(tiny_options(tiny_demo) + extra), fuse=True)
    assert any(isinstance(m, FusedConv2d) for m in model.modules())
    assert not any(isinstance(m, FusedConv2d) for m in plain.modules())
    video = first_video(tiny_demo)
    fused_result, plain_result = infer_video(model, cfg, video, None, names), infer_video(plain, cfg, video, None, names)
    assert [t['class'] for t in fused_result['top5']] == [t['class'] for t in plain_result['top5']]
    assert [t['probability'] for t in fused_result['top5']] == pytest.approx(
        [t['probability'] for t in plain_result['top5']], abs=1e-4)
    assert fused_result['gflops'] == plain_result['gflops']
    for a, b in zip(fused_result['looks'], plain_result['looks'], strict=True):
        assert a['frames'] == b['frames']
        assert np.allclose(a['boxes'], b['boxes'], atol=0.02)
