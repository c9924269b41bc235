"""The data pipeline on real (tiny) VP9 / H.264 files: decoding, sampling, annotations,
transforms, the dataset's bad-clip handling, the epoch sampler, worker determinism."""
from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from gfvideo.data import (SOMETHING_FLIP_PAIRS, AnnotationError, CenterCrop, ClipSource, DecodeError,
                          EpochSampler, Flip, ThreeCrop, flip_map_names, flip_pairs_to_map,
                          FormatShape, MultiScaleCrop, RandomCrop, Resize, VideoDataset,
                          VideoRecord, build_pipeline, clip_rng, collate_clips,
                          count_frame_folder, dense_indices, load_class_names, load_list_file,
                          load_sthv2, probe_num_frames, read_frame_folder, read_frames,
                          resolve_class_names, segment_indices, write_class_names, write_video)
from gfvideo.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS, TRANSFORMS

HAVE_DECORD = True
try:
    import decord  # noqa: F401
except ImportError:  # pragma: no cover
    HAVE_DECORD = False
BACKENDS = ['auto', 'pyav'] + (['decord'] if HAVE_DECORD else [])

T, SIZE = 16, 64


# ----------------------------------------------------------------------------- fixtures

def make_frames(num: int, size: int = SIZE) -> np.ndarray:
    """Frame k: a flat 16x16 marker of value 10 + 15k (top left) on a moving texture."""
    y, x = np.mgrid[:size, :size]
    k = np.arange(num)[:, None, None]
    texture = ((x * 3 + y * 5)[None] + 7 * k) % 128 + 64
    frames = np.repeat(texture[..., None], 3, axis=-1).astype(np.uint8)
    frames[..., 1] //= 2
    frames[:, :16, :16] = (10 + 15 * k)[..., None].astype(np.uint8)
    return frames


def frame_ids(frames: np.ndarray) -> list[int]:
    """Which source frame each decoded frame is, read from its marker."""
    marker = frames[:, 4:12, 4:12].reshape(len(frames), -1).astype(float).mean(1)
    return np.round((marker - 10) / 15).astype(int).tolist()


def write_faststart_mp4(path: Path, frames: np.ndarray) -> Path:
    """H.264 with the index (moov) before the data: a truncated copy keeps a header
    that promises every frame."""
    with av.open(str(path), 'w', options={'movflags': 'faststart'}) as c:
        s = c.add_stream('libx264', rate=Fraction(12))
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], 'yuv420p'
        s.options = {'preset': 'ultrafast', 'crf': '12'}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format='rgb24')):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), 'w') as c:
        s = c.add_stream('aac', rate=16000)
        samples = np.zeros((1, 1024 * 8), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format='fltp', layout='mono')
        frame.sample_rate = 16000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def truncate(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[:int(len(data) * fraction)])
    return dst


@pytest.fixture(scope='module')
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('media')
    frames = make_frames(T)
    m = dict(
        webm=write_video(root / 'clip.webm', frames, codec='vp9'),
        mp4=write_video(root / 'clip.mp4', frames, codec='h264'),
        two=write_video(root / 'two.webm', make_frames(2), codec='vp9'),
        faststart=write_faststart_mp4(root / 'faststart.mp4', frames),
        audio=write_audio_only(root / 'audio.m4a'),
    )
    m['trunc_webm'] = truncate(m['webm'], root / 'trunc.webm')
    m['trunc_mp4'] = truncate(m['mp4'], root / 'trunc.mp4')
    m['trunc_faststart'] = truncate(m['faststart'], root / 'trunc_faststart.mp4', 0.6)
    m['zero'] = root / 'zero.webm'
    m['zero'].write_bytes(b'')
    m['missing'] = root / 'missing.webm'
    return m


# ----------------------------------------------------------------------------- decoding

@pytest.mark.parametrize('kind', ['webm', 'mp4'])
@pytest.mark.parametrize('backend', BACKENDS)
def test_read_frames_returns_the_requested_frames(media, kind, backend):
    indices = [15, 0, 7, 7, 3]
    frames = read_frames(media[kind], indices, backend=backend)
    assert frames.dtype == np.uint8 and frames.shape == (5, SIZE, SIZE, 3)
    assert frame_ids(frames) == indices
    assert probe_num_frames(media[kind], backend=backend) == T


@pytest.mark.skipif(not HAVE_DECORD, reason='decord not installed')
@pytest.mark.parametrize('kind', ['webm', 'mp4'])
def test_decord_and_pyav_agree(media, kind):
    indices = [1, 5, 9, 14]
    a = read_frames(media[kind], indices, backend='decord').astype(int)
    b = read_frames(media[kind], indices, backend='pyav').astype(int)
    assert np.abs(a - b).mean() < 1.0
    assert np.abs(a - b).max() <= 8


def test_decoded_frames_match_the_source(media):
    src = make_frames(T).astype(int)
    got = read_frames(media['mp4'], range(T)).astype(int)
    assert np.abs(got - src).mean() < 4


@pytest.mark.parametrize('name, reason', [('missing', 'file not found'),
                                          ('zero', 'zero-byte'),
                                          ('trunc_mp4', 'cannot open'),
                                          ('audio', 'no video stream')])
@pytest.mark.parametrize('backend', BACKENDS)
def test_unreadable_files_raise_decode_error(media, name, reason, backend):
    with pytest.raises(DecodeError) as err:
        read_frames(media[name], [0], backend=backend)
    assert str(media[name]) in str(err.value)
    if backend != 'decord':  # decord words its own reasons
        assert reason in str(err.value)
    with pytest.raises(DecodeError):
        probe_num_frames(media[name], backend=backend)


@pytest.mark.parametrize('backend', ['auto', 'pyav'])
def test_truncated_file_gives_its_decodable_frames(media, backend):
    num = probe_num_frames(media['trunc_webm'], backend=backend)
    assert 0 < num < T
    frames = read_frames(media['trunc_webm'], range(T), backend=backend)
    assert frame_ids(frames) == list(range(num)) + [num - 1] * (T - num)


@pytest.mark.timeout(60)
def test_header_that_over_reports_frames_does_not_hang(media):
    path = media['trunc_faststart']
    assert probe_num_frames(path) == T  # the header still promises all 16 frames
    frames = read_frames(path, [0, 1, T - 1])
    ids = frame_ids(frames)
    assert ids[:2] == [0, 1] and 1 <= ids[2] < T - 1  # the last decodable frame, repeated
    assert frame_ids(read_frames(path, [T - 1], backend='pyav')) == ids[2:]


def test_short_video_repeats_frames(media):
    assert probe_num_frames(media['two']) == 2
    inds = segment_indices(2, 4, random=False)
    assert frame_ids(read_frames(media['two'], inds)) == [0, 0, 1, 1]
    inds = segment_indices(2, 4, random=True, rng=clip_rng(0, 0, 0))
    assert frame_ids(read_frames(media['two'], inds)) == [0, 0, 1, 1]


def test_read_frames_rejects_bad_arguments(media):
    with pytest.raises(ValueError):
        read_frames(media['webm'], [-1])
    with pytest.raises(ValueError):
        read_frames(media['webm'], [])
    with pytest.raises(ValueError):
        read_frames(media['webm'], [0], backend='opencv')


def test_frame_folder(tmp_path):
    from PIL import Image
    frames = make_frames(5)
    for k, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f'{k + 1:05d}.jpg', quality=95)
    assert count_frame_folder(tmp_path) == 5
    got = read_frame_folder(tmp_path, [4, 0, 2, 2])
    assert got.shape == (4, SIZE, SIZE, 3) and frame_ids(got) == [4, 0, 2, 2]
    with pytest.raises(DecodeError, match='00006.jpg'):
        read_frame_folder(tmp_path, [5])
    ann = tmp_path.parent / f'{tmp_path.name}_rawframes.txt'
    ann.write_text(f'{tmp_path.name} 5 3\n')
    ds = VideoDataset(str(ann), [], data_prefix=str(tmp_path.parent), num_segments=3,
                      test_mode=True)
    s = ds[0]
    assert s['label'] == 3 and s['frame_inds'].tolist() == [0, 2, 4]
    assert frame_ids(s['inputs'].permute(0, 2, 3, 1).numpy()) == [0, 2, 4]


@pytest.mark.skipif(not HAVE_DECORD, reason='decord not installed')
def test_chunks_restart_from_pyav_when_decord_fails_midway(media, monkeypatch):
    """extract_frames' path: a decord error after some chunks restarts every frame from PyAV."""
    from gfvideo.data.readers import DecordReader
    real, calls = DecordReader.read, []

    def flaky(self, indices):
        calls.append(1)
        if len(calls) == 2:
            raise DecodeError(self.path, 'decord failed (test)')
        return real(self, indices)

    monkeypatch.setattr(DecordReader, 'read', flaky)
    restarts, got = [], []
    source = ClipSource(media['mp4'])
    for chunk in source.chunks(5, restart=lambda: (restarts.append(1), got.clear())):
        got.extend(frame_ids(chunk))
    assert restarts == [1] and got == list(range(T))
    calls.clear()
    with pytest.raises(DecodeError, match='test'):  # no restart to call: no silent duplicates
        list(ClipSource(media['mp4']).chunks(5))
    calls.clear()
    with pytest.raises(DecodeError, match='test'):  # backend='decord' never falls back
        list(ClipSource(media['mp4'], 'decord').chunks(5, restart=lambda: None))


def test_no_data_module_reaches_into_another_modules_private_names():
    """gfvideo/data's modules, and inference and config validation which use them, import
    public names only (ClipSource is the way to a video, resolve_class_names to class names)."""
    import ast
    package = Path(__file__).resolve().parent.parent / 'gfvideo'
    for path in [*(package / 'data').glob('*.py'), package / 'inference.py', package / 'engine' / 'validation.py']:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or '').startswith('gfvideo')):
                private = [a.name for a in node.names if a.name.startswith('_')]
                assert not private, f'{path.name} imports {private} from {node.module}'


# ----------------------------------------------------------------------------- sampling

def test_segment_indices_test_mode_takes_centres():
    assert segment_indices(16, 4, random=False).tolist() == [2, 6, 10, 14]
    assert segment_indices(10, 4, random=False).tolist() == [1, 3, 6, 8]
    both = segment_indices(16, 4, random=False, twice=True)
    assert both.tolist() == [2, 6, 10, 14, 0, 4, 8, 12]


def test_segment_indices_train_mode_is_random_within_segments():
    n, s = 50, 8
    starts = np.arange(s) * n // s
    ends = (np.arange(s) + 1) * n // s
    seen = set()
    for index in range(200):
        inds = segment_indices(n, s, random=True, rng=clip_rng(0, 0, index))
        assert len(inds) == s and np.all(inds >= starts) and np.all(inds < ends)
        seen.add(tuple(inds))
    assert len(seen) > 150
    again = segment_indices(n, s, random=True, rng=clip_rng(0, 0, 7))
    assert np.array_equal(again, segment_indices(n, s, random=True, rng=clip_rng(0, 0, 7)))
    other_epoch = segment_indices(n, s, random=True, rng=clip_rng(0, 1, 7))
    assert not np.array_equal(again, other_epoch)


def test_segment_indices_short_and_invalid():
    assert segment_indices(2, 4, random=False).tolist() == [0, 0, 1, 1]
    assert segment_indices(3, 8, random=False).tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    assert segment_indices(1, 3, random=False, twice=True).tolist() == [0] * 6
    with pytest.raises(ValueError):
        segment_indices(0, 4, random=False)
    with pytest.raises(ValueError):
        segment_indices(8, 4, random=True)  # no rng


def test_dense_indices():
    assert dense_indices(100, 4, 8, random=False).tolist() == [37, 45, 53, 61]
    assert dense_indices(10, 4, 4, random=False).tolist() == [0, 4, 8, 9]
    for index in range(20):
        inds = dense_indices(40, 4, 2, random=True, rng=clip_rng(0, 0, index))
        assert np.all(np.diff(inds) == 2) and 0 <= inds[0] <= 33


def test_clip_rng_depends_only_on_its_key():
    a = clip_rng(3, 1, 5).integers(1 << 30, size=4)
    np.random.seed(123)
    torch.manual_seed(123)
    assert np.array_equal(a, clip_rng(3, 1, 5).integers(1 << 30, size=4))
    assert not np.array_equal(a, clip_rng(3, 2, 5).integers(1 << 30, size=4))
    assert not np.array_equal(a, clip_rng(4, 1, 5).integers(1 << 30, size=4))


# ----------------------------------------------------------------------------- annotations

def test_list_file_videos_and_rawframes(tmp_path):
    f = tmp_path / 'list.txt'
    f.write_text('# a comment\n\na/b/123.webm 4\nframes/77 30 2\n  x.mp4 -1  \n')
    recs = load_list_file(f, data_prefix='/data')
    assert recs == [VideoRecord('/data/a/b/123.webm', 4, '123'),
                    VideoRecord('/data/frames/77', 2, '77', 30),
                    VideoRecord('/data/x.mp4', -1, 'x')]


@pytest.mark.parametrize('bad', ['clip.webm', 'clip.webm four', 'clip.webm 1 2 3',
                                 'dir x 3', 'dir 0 3'])
def test_list_file_malformed_line_names_file_and_line(tmp_path, bad):
    f = tmp_path / 'bad_list.txt'
    f.write_text(f'ok.webm 1\n# comment\n{bad}\n')
    with pytest.raises(AnnotationError) as err:
        load_list_file(f)
    assert f'{f}:3' in str(err.value) and bad in str(err.value)


def write_sthv2(tmp_path: Path) -> tuple[Path, Path, Path]:
    labels = {'Approaching something with your camera': '1',
              'Holding something next to something': '0',
              'Pushing something from left to right': '2'}
    train = [{'id': '78687', 'label': 'holding potato next to vicks vaporub bottle',
              'template': 'Holding [something] next to [something]',
              'placeholders': ['potato', 'vicks vaporub bottle']},
             {'id': '42', 'label': 'pushing pen from left to right',
              'template': 'Pushing [something] from left to right', 'placeholders': ['pen']}]
    test = [{'id': '1420'}, {'id': '7'}]
    paths = tmp_path / 'labels.json', tmp_path / 'train.json', tmp_path / 'test.json'
    for p, obj in zip(paths, (labels, train, test)):
        p.write_text(json.dumps(obj))
    return paths


def test_sthv2_format(tmp_path):
    labels, train, test = write_sthv2(tmp_path)
    recs, names = load_sthv2(train, labels, '/videos')
    assert names == ['Holding something next to something',
                     'Approaching something with your camera',
                     'Pushing something from left to right']
    assert recs == [VideoRecord('/videos/78687.webm', 0, '78687'),
                    VideoRecord('/videos/42.webm', 2, '42')]
    recs, _ = load_sthv2(test, labels, '/videos', video_ext='.mp4')
    assert [(r.clip_id, r.label, r.path) for r in recs] == [('1420', -1, '/videos/1420.mp4'),
                                                           ('7', -1, '/videos/7.mp4')]


def test_sthv2_unknown_template_is_an_error(tmp_path):
    labels, train, _ = write_sthv2(tmp_path)
    bad = json.loads(train.read_text()) + [{'id': '9', 'template': 'Dancing [something]'}]
    train.write_text(json.dumps(bad))
    with pytest.raises(AnnotationError, match='entry 3'):
        load_sthv2(train, labels, '/videos')


def test_class_names_round_trip(tmp_path):
    names = ['b class', 'a class', 'c']
    write_class_names(tmp_path / 'names.txt', names)
    assert load_class_names(tmp_path / 'names.txt') == names


def test_resolve_class_names_one_rule(tmp_path):
    labels, _, _ = write_sthv2(tmp_path)
    write_class_names(tmp_path / 'classes.txt', ['x', 'y'])
    sthv2 = dict(ann_format='sthv2', labels_file=str(labels))
    assert resolve_class_names(sthv2)[0] == 'labels_file'
    assert resolve_class_names(sthv2)[1][0] == 'Holding something next to something'
    assert resolve_class_names(dict(sthv2, class_names_file=str(tmp_path / 'classes.txt'))) == (
        'class_names_file', ['x', 'y'])                      # class_names_file wins
    assert resolve_class_names(dict(labels_file=str(labels))) == (None, None)  # a list dataset
    with pytest.raises(AnnotationError, match='nope.txt'):
        resolve_class_names(dict(class_names_file=str(tmp_path / 'nope.txt')))


# ----------------------------------------------------------------------------- transforms

def clip(h=48, w=80, n=4, seed=0) -> dict:
    imgs = np.random.default_rng(99).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    return dict(imgs=imgs, label=86, rng=clip_rng(seed, 0, 0))


def test_resize_short_side_and_exact():
    r = Resize(scale=(-1, 24), lazy=False)(clip())
    assert r['imgs'].shape == (4, 24, 40, 3) and r['img_shape'] == (24, 40)
    r = Resize(scale=(-1, 24), lazy=False)(clip(h=80, w=48))
    assert r['imgs'].shape == (4, 40, 24, 3)
    r = Resize(scale=(30, 20), lazy=False)(clip())
    assert r['imgs'].shape == (4, 20, 30, 3)
    flat = dict(imgs=np.full((2, 10, 20, 3), 77, np.uint8))
    assert np.all(Resize(scale=(-1, 25), lazy=False)(flat)['imgs'] == 77)


def test_lazy_resize_crops_from_the_original_frames():
    """Resize-then-crop in one interpolation: the same geometry as two, within rounding."""
    y, x = np.mgrid[:96, :160]
    smooth = np.stack([x + y, 2 * x, 255 - y], -1).clip(0, 255).astype(np.uint8)[None].repeat(4, 0)
    for crop in (CenterCrop(40), MultiScaleCrop(32, scales=(1, 0.75)), ThreeCrop(48), Flip(1.0)):
        for seed in range(3):
            results = [crop(Resize((-1, 48), lazy=lazy)(dict(imgs=smooth, label=0, rng=clip_rng(seed, 0, 0))))
                       for lazy in (True, False)]
            lazy, eager = (FormatShape()(r)['inputs'].int() for r in results)
            assert lazy.shape == eager.shape and 'lazy_size' not in results[0]
            assert (lazy - eager).abs().float().mean() < 2.5
            assert np.array_equal(results[0].get('crop_bbox'), results[1].get('crop_bbox'))
    r = Resize((-1, 48))(Resize((-1, 24))(dict(imgs=smooth)))
    assert r['lazy_size'] == (80, 48) and FormatShape()(r)['inputs'].shape == (4, 3, 48, 80)


def test_resize_without_opencv_matches(monkeypatch):
    from gfvideo.data import transforms
    imgs = clip()['imgs']
    with_cv2 = transforms.resize_clip(imgs, (120, 72)).astype(int)
    monkeypatch.setattr(transforms, 'cv2', None)
    without = transforms.resize_clip(imgs, (120, 72))
    assert without.dtype == np.uint8 and without.shape == (4, 72, 120, 3)
    assert np.abs(with_cv2 - without.astype(int)).max() <= 1


def test_resize_batches_frames_like_single_frames():
    from gfvideo.data.transforms import resize_clip
    imgs = clip(n=6)['imgs']
    together = resize_clip(imgs, (100, 60)).astype(int)
    alone = np.concatenate([resize_clip(imgs[i:i + 1], (100, 60)) for i in range(6)]).astype(int)
    assert np.abs(together - alone).max() <= 1


@pytest.mark.parametrize('make', [lambda: RandomCrop(32),
                                  lambda: MultiScaleCrop(32),
                                  lambda: MultiScaleCrop((40, 32), random_crop=True),
                                  lambda: MultiScaleCrop(32, num_fixed_crops=13)])
def test_random_crops_read_only_results_rng(make):
    t = make()
    a = t(clip(seed=5))
    np.random.seed(1)
    torch.manual_seed(1)
    b = t(clip(seed=5))
    assert np.array_equal(a['crop_bbox'], b['crop_bbox']) and np.array_equal(a['imgs'], b['imgs'])
    boxes = {tuple(t(clip(seed=s))['crop_bbox']) for s in range(30)}
    assert len(boxes) > 1
    expect = (32, 40) if 'random_crop=True' in repr(t) else (32, 32)
    assert a['imgs'].shape == (4, *expect, 3)
    no_rng = clip()
    del no_rng['rng']
    with pytest.raises(KeyError, match='rng'):
        t(no_rng)


def test_multiscale_crop_boxes_come_from_scales_and_fixed_offsets():
    t = MultiScaleCrop(32, scales=(1, .5), max_wh_scale_gap=0)
    for s in range(20):
        x1, y1, x2, y2 = t(clip(seed=s))['crop_bbox']
        assert (x2 - x1, y2 - y1) in {(48, 48), (24, 24)}
        assert x1 in {0, (80 - (x2 - x1)) // 4 * 2, (80 - (x2 - x1)) // 4 * 4}


def test_center_crop():
    r = CenterCrop((40, 20))(clip())
    assert r['imgs'].shape == (4, 20, 40, 3) and r['crop_bbox'].tolist() == [20, 14, 60, 34]
    with pytest.raises(ValueError):
        CenterCrop(100)(clip())


def test_flip_and_label_map():
    flips = [Flip(0.5)(clip(seed=s))['flip'] for s in range(40)]
    assert 5 < sum(flips) < 35
    c = clip()
    r = Flip(1.0, flip_label_map={86: 87, 87: 86})(dict(c, imgs=c['imgs'].copy()))
    assert r['label'] == 87 and np.array_equal(r['imgs'], c['imgs'][:, :, ::-1])
    assert Flip(0.0, {86: 87})(clip())['label'] == 86


# A label file in its own (file) order, with mmaction2-style flip indices for that order.
FLIP_FILE_ORDER = ['Pushing something from right to left', 'Holding something',
                   'Turning the camera right while filming something',
                   'Pushing something from left to right',
                   'Turning the camera left while filming something']
FLIP_FILE_MAP = {0: 3, 3: 0, 2: 4, 4: 2}


@pytest.mark.parametrize('order', ['file', 'alphabetical'])
def test_flip_map_by_name_is_right_under_both_class_orders(tmp_path, media, order):
    classes = FLIP_FILE_ORDER if order == 'file' else sorted(FLIP_FILE_ORDER)
    (tmp_path / 'classes.txt').write_text('\n'.join(classes) + '\n')
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{media["webm"]} {i}\n' for i in range(len(classes))))
    by_name = flip_map_names(FLIP_FILE_MAP, FLIP_FILE_ORDER)
    expect = {'Pushing something from right to left': 'Pushing something from left to right',
              'Turning the camera left while filming something':
                  'Turning the camera right while filming something',
              'Holding something': 'Holding something'}
    expect.update({v: k for k, v in expect.items()})
    for flip_map in (by_name, flip_pairs_to_map(SOMETHING_FLIP_PAIRS[1:])):
        pipe = [dict(type='Resize', scale=(-1, 32)), dict(type='CenterCrop', size=32),
                dict(type='Flip', flip_ratio=1.0, flip_label_map=flip_map)]
        ds = VideoDataset(str(ann), pipe, num_segments=2, class_names_file=str(tmp_path / 'classes.txt'))
        for i, name in enumerate(classes):
            assert classes[ds[(0, i)]['label']] == expect[name]
    # the index map used as given is only right in the order it was written for
    plain = VideoDataset(str(ann), [dict(type='Flip', flip_ratio=1.0, flip_label_map=FLIP_FILE_MAP)],
                         num_segments=2, class_names_file=str(tmp_path / 'classes.txt'))
    right = all(classes[plain[(0, i)]['label']] == expect[n] for i, n in enumerate(classes))
    assert right == (order == 'file')
    with pytest.raises(KeyError, match='Pulling something'):
        VideoDataset(str(ann), [dict(type='Flip', flip_label_map=flip_pairs_to_map(SOMETHING_FLIP_PAIRS))],
                     num_segments=2, class_names_file=str(tmp_path / 'classes.txt'))


def test_three_crop_views_along_the_longer_side():
    r = ThreeCrop(48)(clip(h=48, w=80))
    assert r['imgs'].shape == (12, 48, 48, 3) and r['num_views'] == 3
    assert r['crop_bboxes'][:, 0].tolist() == [0, 16, 32]
    src = clip(h=48, w=80)['imgs']
    assert np.array_equal(r['imgs'][4:8], src[:, :, 16:64]) and np.array_equal(r['imgs'][8:], src[:, :, 32:])
    tall = ThreeCrop(40)(dict(imgs=src.transpose(0, 2, 1, 3).copy(), num_views=2))
    assert tall['crop_bboxes'][:, 1].tolist() == [0, 20, 40] and tall['num_views'] == 6


def test_twice_sample_and_three_crop_make_views(ann, media, tmp_path):
    f = tmp_path / 'one.txt'
    f.write_text(f'{media["webm"]} 0\n')
    pipe = [dict(type='Resize', scale=(-1, 32)), dict(type='ThreeCrop', size=32)]
    s = VideoDataset(str(f), pipe, num_segments=4, test_mode=True, twice_sample=True)[0]
    assert s['num_views'] == 6 and s['inputs'].shape[:2] == (24, 3)
    batch = collate_clips([s, s])
    assert batch['data_samples']['num_views'] == 6


def test_demo_test_pipeline_leaves_demo_frames_bit_identical():
    """The demo config's test resize and crop to the model's 128 change nothing on its own
    128x128 videos (so its results stay as they were) and bring other sizes to 128x128."""
    from mmengine.config import Config
    cfg = Config.fromfile(Path(__file__).resolve().parent.parent / 'configs/demo/glance_focus_e2e.py')
    pipe = build_pipeline(cfg.test_dataloader.dataset.pipeline)
    assert pipe.output_hw() == (cfg.model.input_size,) * 2 == (128, 128)
    frames = clip(h=128, w=128)
    assert torch.equal(pipe(dict(frames))['inputs'], FormatShape()(dict(frames))['inputs'])
    assert pipe(clip(h=272, w=640))['inputs'].shape == (4, 3, 128, 128)


def test_pipeline_output_size_without_frames():
    assert build_pipeline([dict(type='Resize', scale=(-1, 256)), dict(type='MultiScaleCrop', input_size=(96, 64)),
                           dict(type='Flip'), dict(type='FormatShape')]).output_hw() == (64, 96)
    assert build_pipeline([dict(type='Resize', scale=(-1, 32))]).output_hw() is None        # depends on the video
    assert build_pipeline([dict(type='Resize', scale=(-1, 32))]).output_hw((48, 80)) == (32, 53)
    unknown = build_pipeline([dict(type='Resize', scale=(40, 30)), lambda r: r])
    assert unknown.output_hw() is None                                   # a callable can't say


def test_format_shape_and_pipeline_from_configs():
    pipe = build_pipeline([dict(type='Resize', scale=(-1, 40)), dict(type='CenterCrop', size=32),
                           dict(type='Flip', flip_ratio=0.5), dict(type='FormatShape')])
    r = pipe(clip())
    x = r['inputs']
    assert x.dtype == torch.uint8 and x.shape == (4, 3, 32, 32) and x.is_contiguous()
    assert 'imgs' not in r
    r2 = FormatShape()(dict(imgs=clip()['imgs']))
    assert torch.equal(r2['inputs'][1, 2], torch.from_numpy(clip()['imgs'][1, ..., 2]))
    assert TRANSFORMS.get('MultiScaleCrop') is MultiScaleCrop


# ----------------------------------------------------------------------------- dataset

@pytest.fixture
def ann(tmp_path, media) -> Path:
    """Six clips; clip 2 is a zero-byte file, clip 3 is missing."""
    lines = [f'{media["webm"]} 0', f'{media["mp4"]} 1', f'{media["zero"]} 2',
             f'{media["missing"]} 3', f'{media["two"]} 4', f'{media["trunc_webm"]} 5']
    f = tmp_path / 'train_list.txt'
    f.write_text('\n'.join(lines) + '\n')
    return f


PIPE = [dict(type='Resize', scale=(-1, 48)), dict(type='MultiScaleCrop', input_size=32),
        dict(type='Flip', flip_ratio=0.5), dict(type='FormatShape')]


def test_dataset_sample(ann):
    ds = VideoDataset(str(ann), PIPE, num_segments=4)
    s = ds[0]
    assert s['inputs'].shape == (4, 3, 32, 32) and s['inputs'].dtype == torch.uint8
    assert (s['label'], s['clip_id'], s['index'], s['replaced']) == (0, 'clip', 0, [])
    seg = np.arange(4) * 4
    assert np.all((s['frame_inds'] >= seg) & (s['frame_inds'] < seg + 4))
    assert ds.metainfo['classes'] == [str(i) for i in range(6)]
    same, other = ds[(0, 0)], ds[(1, 0)]
    assert torch.equal(s['inputs'], same['inputs'])
    assert not (np.array_equal(s['frame_inds'], other['frame_inds'])
                and torch.equal(s['inputs'], other['inputs']))


def test_dataset_test_mode_centres_and_twice(ann):
    ds = VideoDataset(str(ann), [], num_segments=4, test_mode=True, twice_sample=True)
    s = ds[0]  # no FormatShape in the pipeline: the dataset adds it
    assert s['frame_inds'].tolist() == [2, 6, 10, 14, 0, 4, 8, 12]
    assert s['inputs'].shape == (8, 3, SIZE, SIZE)
    assert frame_ids(s['inputs'].permute(0, 2, 3, 1).numpy()) == s['frame_inds'].tolist()
    assert ds[4]['frame_inds'].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]  # the 2-frame clip
    assert torch.equal(ds[(5, 0)]['inputs'], s['inputs'])  # test mode ignores the epoch


def test_dataset_replaces_bad_clips_and_reports_them(ann, media):
    ds = VideoDataset(str(ann), PIPE, num_segments=4)
    s = ds[(3, 2)]  # zero-byte, then missing, then the 2-frame clip
    assert s['index'] == 4 and s['label'] == 4 and s['clip_id'] == 'two'
    assert s['replaced'] == [str(media['zero']), str(media['missing'])]
    assert set(ds.skipped) == {str(media['zero']), str(media['missing'])}
    assert 'zero-byte' in ds.skipped[str(media['zero'])]
    direct = ds[(3, 4)]
    assert torch.equal(s['inputs'], direct['inputs']) and direct['replaced'] == []
    tight = VideoDataset(str(ann), PIPE, num_segments=4, max_retries=1)
    with pytest.raises(RuntimeError, match='missing.webm'):
        tight[2]


def test_dataset_sthv2_and_registry(tmp_path, media):
    labels, train, _ = write_sthv2(tmp_path)
    vids = tmp_path / 'videos'
    vids.mkdir()
    for name in ('78687', '42'):
        os.symlink(media['webm'], vids / f'{name}.webm')
    ds = DATASETS.build(dict(type='VideoDataset', ann_file=str(train), pipeline=PIPE,
                             data_prefix=str(vids), ann_format='sthv2',
                             labels_file=str(labels), num_segments=2))
    assert ds.metainfo['classes'][0] == 'Holding something next to something'
    assert [ds[i]['label'] for i in range(2)] == [0, 2]
    with pytest.raises(AnnotationError):
        VideoDataset(str(tmp_path / 'labels.json'), PIPE)  # not a list file


def test_collate_clips(ann):
    ds = VideoDataset(str(ann), PIPE, num_segments=4)
    batch = FUNCTIONS.get('collate_clips')([ds[0], ds[1], ds[2]])
    assert batch['inputs'].shape == (3, 4, 3, 32, 32) and batch['inputs'].dtype == torch.uint8
    d = batch['data_samples']
    assert d['labels'].tolist() == [0, 1, 4] and d['indices'].tolist() == [0, 1, 4]
    assert d['clip_ids'] == ['clip', 'clip', 'two'] and d['frame_inds'].shape == (3, 4)
    assert len(d['replaced']) == 2


# ----------------------------------------------------------------------------- sampler

def test_epoch_sampler_matches_default_sampler_order():
    from mmengine.dataset import DefaultSampler
    data = list(range(10))
    for shuffle in (True, False):
        for world, rank in ((1, 0), (3, 1)):
            ours = EpochSampler(data, shuffle=shuffle, seed=7, rank=rank, world_size=world)
            ref = DefaultSampler(data, shuffle=shuffle, seed=7)
            ref.rank, ref.world_size = rank, world
            ref.num_samples = ours.num_samples
            ref.total_size = ours.total_size
            for epoch in (0, 3):
                ours.set_epoch(epoch)
                ref.set_epoch(epoch)
                got = list(ours)
                assert got == [(epoch, i) for i in ref] and len(got) == len(ours)
    assert len(EpochSampler(data, seed=0, rank=1, world_size=3)) == 4  # rounded up
    assert len(EpochSampler(data, seed=0, rank=1, world_size=3, round_up=False)) == 3


def test_epoch_sampler_determinism_skip_and_state():
    s = EpochSampler(range(12), seed=1)
    first = list(s)
    assert first == list(EpochSampler(range(12), seed=1))
    s.set_epoch(1)
    second = list(s)
    assert sorted(i for _, i in second) == list(range(12)) and [i for _, i in first] != [
        i for _, i in second]
    s.skip(5)
    assert len(s) == 7
    assert list(s) == second[5:]
    assert list(s) == second  # the skip applies once
    state = s.state_dict()
    resumed = EpochSampler(range(12), seed=None)
    resumed.load_state_dict(dict(state, skip=3))
    assert list(resumed) == second[3:]
    assert DATA_SAMPLERS.get('EpochSampler') is EpochSampler


@pytest.mark.timeout(120)
def test_dataloader_workers_give_identical_batches(ann):
    ds = VideoDataset(str(ann), PIPE, num_segments=4)

    def batches(workers: int) -> list[dict]:
        sampler = EpochSampler(ds, seed=3)
        out = []
        for epoch in (0, 1):
            sampler.set_epoch(epoch)
            loader = DataLoader(ds, batch_size=2, sampler=sampler, num_workers=workers,
                                collate_fn=collate_clips)
            out += list(loader)
        return out

    a, b = batches(0), batches(2)
    assert len(a) == len(b) == 6
    for x, y in zip(a, b):
        assert torch.equal(x['inputs'], y['inputs'])
        for key in ('labels', 'indices', 'frame_inds'):
            assert torch.equal(x['data_samples'][key], y['data_samples'][key])
        assert x['data_samples']['replaced'] == y['data_samples']['replaced']
    # per epoch: index 2 replaces [zero, missing], index 3 replaces [missing]
    assert sum(len(x['data_samples']['replaced']) for x in b) == 6
