"""The demo dataset: file formats, determinism, and the glance/focus design in numbers.

The design claims, checked on decoded VP9 videos:
(1) at full resolution the object's texture (its identity) is easy to read;
(2) at the 32x32 glance (area downsampling by 4) it is gone: identity at chance;
(3) at the glance the object's direction of motion is plain.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gfvideo.data import demo
from gfvideo.data.demo import CLASS_NAMES, DIRECTIONS, TEXTURES, make_demo_dataset, render_clip

decord = pytest.importorskip('decord')

N_TRAIN, N_VAL, N_TEST = 48, 12, 36


# ----------------------------------------------------------------------------- helpers

def decode(path) -> np.ndarray:
    vr = decord.VideoReader(str(path))
    return vr.get_batch(list(range(len(vr)))).asnumpy()


def luma(x: np.ndarray) -> np.ndarray:
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def glance(video: np.ndarray, factor: int = 4) -> np.ndarray:
    """Area downsampling by an integer factor (what cv2.INTER_AREA / adaptive average
    pooling do for integer factors): [T, H, W, 3] -> [T, H/f, W/f, 3] float."""
    t, h, w, c = video.shape
    return video.reshape(t, h // factor, factor, w // factor, factor, c).astype(np.float64).mean((2, 4))


def crop_features(crops: np.ndarray) -> np.ndarray:
    """Per crop [N, k, k] luma -> |2-D FFT| of the crop minus its mean: free of the
    texture's phase and of the object's colour."""
    centred = crops - crops.mean((1, 2), keepdims=True)
    return np.abs(np.fft.fft2(centred)).reshape(len(crops), -1)


def softmax_regression(xtr, ytr, xte, n_classes, steps=400, lr=0.5, wd=1e-3) -> np.ndarray:
    """Multinomial logistic regression by full-batch gradient descent; returns test predictions."""
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    w = np.zeros((xtr.shape[1], n_classes))
    b = np.zeros(n_classes)
    onehot = np.eye(n_classes)[ytr]
    for _ in range(steps):
        z = xtr @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) / len(xtr)
        w -= lr * (xtr.T @ g + wd * w)
        b -= lr * g.sum(0)
    return (xte @ w + b).argmax(1)


def object_crops(videos, boxes, factor: int = 1) -> np.ndarray:
    """Luma crops of the object's box per frame, from frames downsampled by ``factor``."""
    out = []
    for video, bxs in zip(videos, boxes):
        frames = luma(glance(video, factor) if factor > 1 else video.astype(np.float64))
        size = frames.shape[1]
        for frame, (x0, y0, x1, y1) in zip(frames, bxs):
            x0, y0, x1, y1 = (int(round(v * size)) for v in (x0, y0, x1, y1))
            out.append(frame[y0:y1, x0:x1])
    return np.stack(out)


def identity_accuracy(videos, boxes, labels, factor: int) -> float:
    """Texture accuracy of a softmax regression on the object's crops; clips alternate
    between training and testing, so no clip is on both sides."""
    crops = object_crops(videos, boxes, factor)
    frames = len(videos[0])
    clip_of = np.repeat(np.arange(len(videos)), frames)
    y = np.repeat(np.asarray(labels) // len(DIRECTIONS), frames)
    x = crop_features(crops)
    tr, te = clip_of % 2 == 0, clip_of % 2 == 1
    pred = softmax_regression(x[tr], y[tr], x[te], len(TEXTURES))
    return float((pred == y[te]).mean())


def glance_direction(video: np.ndarray) -> int:
    """Direction of the moving blob at the 32x32 glance: subtract the temporal median
    (the static scene), take the centroid of what is left per frame, fit its slope."""
    g = glance(video)
    moving = np.abs(g - np.median(g, axis=0)).sum(-1)                       # [T, h, w]
    moving = np.maximum(moving - 0.25 * moving.max((1, 2), keepdims=True), 0)
    h, w = moving.shape[1:]
    mass = moving.sum((1, 2)) + 1e-9
    cx = (moving.sum(1) * np.arange(w)).sum(1) / mass
    cy = (moving.sum(2) * np.arange(h)).sum(1) / mass
    t = np.arange(len(g)) - (len(g) - 1) / 2
    sx, sy = (cx * t).sum(), (cy * t).sum()
    return int(np.argmax([sx, -sx, sy, -sy]))        # right, left, down, up


def load_split(root: Path, split: str):
    entries = json.loads((root / f'{split}.json').read_text())
    labels_map = json.loads((root / 'labels.json').read_text())
    boxes = json.loads((root / 'boxes.json').read_text())
    videos = [decode(root / 'videos' / f"{e['id']}.webm") for e in entries]
    labels = [int(labels_map[e['template'].replace('[', '').replace(']', '')]) for e in entries]
    return videos, [boxes[e['id']] for e in entries], labels


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    summary = make_demo_dataset(root, seed=3, num_train=N_TRAIN, num_val=N_VAL, num_test=N_TEST, workers=2)
    return root, summary


@pytest.fixture(scope='module')
def clips(dataset):
    root, _ = dataset
    videos, boxes, labels = load_split(root, 'train')
    more = load_split(root, 'test')
    return videos + more[0], boxes + more[1], labels + more[2]


# ----------------------------------------------------------------------------- formats

def test_class_names_and_labels():
    assert len(CLASS_NAMES) == 12 and len(set(CLASS_NAMES)) == 12
    assert CLASS_NAMES[0] == 'horizontal stripes moving right'
    for t, texture in enumerate(TEXTURES):
        for d, direction in enumerate(DIRECTIONS):
            assert CLASS_NAMES[t * 4 + d] == f'{texture} moving {direction}'
    for a, b in demo.FLIP_LABEL_MAP.items():
        assert CLASS_NAMES[a].split(' moving ')[0] == CLASS_NAMES[b].split(' moving ')[0]
        assert {CLASS_NAMES[a].split()[-1], CLASS_NAMES[b].split()[-1]} == {'left', 'right'}


def test_files_and_formats(dataset):
    root, summary = dataset
    assert summary['counts'] == {'train': N_TRAIN, 'val': N_VAL, 'test': N_TEST}
    assert summary['seconds'] > 0

    labels = json.loads((root / 'labels.json').read_text())
    assert list(labels) == list(CLASS_NAMES)
    assert all(isinstance(v, str) for v in labels.values())
    assert [int(v) for v in labels.values()] == list(range(12))
    assert (root / 'classes.txt').read_text().splitlines() == list(CLASS_NAMES)

    boxes = json.loads((root / 'boxes.json').read_text())
    seen = set()
    for split, n in (('train', N_TRAIN), ('val', N_VAL), ('test', N_TEST)):
        entries = json.loads((root / f'{split}.json').read_text())
        assert len(entries) == n
        lines = (root / f'{split}.txt').read_text().splitlines()
        assert len(lines) == n
        for e, line in zip(entries, lines):
            assert set(e) == {'id', 'label', 'template', 'placeholders'}
            assert isinstance(e['id'], str) and e['id'].isdigit()
            assert e['placeholders'] == [] and e['label'] == e['template']
            label = int(labels[e['template'].replace('[', '').replace(']', '')])
            path, lab = line.split(' ')
            assert path == f"videos/{e['id']}.webm" and int(lab) == label
            assert (root / path).is_file()
            assert len(boxes[e['id']]) == 8
            for x0, y0, x1, y1 in boxes[e['id']]:
                assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        ids = [e['id'] for e in entries]
        assert not seen & set(ids) and len(set(ids)) == n
        seen |= set(ids)
        counts = np.bincount([int(labels[e['template']]) for e in entries], minlength=12)
        assert counts.max() - counts.min() <= 1, (split, counts)          # balanced
    assert set(boxes) == seen
    assert len(list((root / 'videos').glob('*.webm'))) == len(seen)


def test_decoded_video_shape_and_fps(dataset):
    root, _ = dataset
    vr = decord.VideoReader(str(root / 'videos' / '1.webm'))
    assert len(vr) == 8 and vr[0].shape == (128, 128, 3)
    assert abs(vr.get_avg_fps() - 12) < 0.01


def test_render_clip_geometry():
    for label in range(12):
        video, boxes = render_clip(np.random.default_rng([0, 9, label]), label, 8, 128)
        assert video.dtype == np.uint8 and video.shape == (8, 128, 128, 3)
        assert boxes.shape == (8, 4)
        side = boxes[:, 2:] - boxes[:, :2]
        assert np.all(side == demo.object_size(128))
        assert np.all(boxes[:, :2] % 4 == 0) and boxes.min() >= 0 and boxes.max() <= 128
        step = np.diff(boxes[:, :2], axis=0)
        assert np.all(step == step[0])                                      # constant velocity
        dx, dy = demo._DIRECTION_STEPS[label % 4]
        travel = np.abs(boxes[-1, :2] - boxes[0, :2]).sum() / 128
        assert np.array_equal(np.sign(step[0]), [dx, dy]) and 0.4 <= travel <= 0.6
        # At the glance the object's 4x4 blocks are exactly flat (before encoding).
        g = glance(video)
        x0, y0, x1, y1 = (boxes[0] // 4).astype(int)
        block = g[0, y0:y1, x0:x1]
        assert np.abs(block - block[0, 0]).max() < 1e-9


def test_deterministic(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / 'again'
    # In-process this time (the fixture used 2 worker processes): same output.
    make_demo_dataset(again, seed=3, num_train=N_TRAIN, num_val=N_VAL, num_test=N_TEST, workers=0)
    for name in ('labels.json', 'train.json', 'val.json', 'test.json', 'boxes.json', 'test.txt'):
        assert (root / name).read_bytes() == (again / name).read_bytes(), name
    for vid in ('1', str(N_TRAIN + 1), str(N_TRAIN + N_VAL + N_TEST)):
        assert np.array_equal(decode(root / 'videos' / f'{vid}.webm'), decode(again / 'videos' / f'{vid}.webm'))
    # A different seed gives different clips.
    a, _ = render_clip(np.random.default_rng([3, 0, 0]), 0)
    b, _ = render_clip(np.random.default_rng([4, 0, 0]), 0)
    assert not np.array_equal(a, b)


# ----------------------------------------------------------------------------- the design

def test_identity_readable_at_full_resolution(clips):
    acc = identity_accuracy(*clips, factor=1)
    assert acc > 0.95, acc


def test_identity_lost_at_glance(clips):
    acc = identity_accuracy(*clips, factor=4)
    # Chance is 1/3; ~340 test crops from 42 clips: allow for sampling noise.
    assert acc < 0.45, acc


def test_direction_visible_at_glance(clips):
    videos, _, labels = clips
    pred = np.array([glance_direction(v) for v in videos])
    acc = float((pred == np.asarray(labels) % 4).mean())
    assert acc > 0.95, acc


def test_cli_help(capsys):
    """In-process (the script itself runs as a script in the image demo's and other tests)."""
    from data_prep.make_demo_dataset import main
    with pytest.raises(SystemExit) as stop:
        main(['--help'])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    for flag in ('--out', '--images', '--seed', '--num-train', '--num-val', '--num-test', '--frames', '--size',
                 '--workers'):
        assert flag in out
