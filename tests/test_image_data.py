"""Image datasets on tiny PIL-written copies of ImageNet's layouts (and generic ones): labels per
layout, bad files replaced and counted, bad annotation lines named, samples collated as clips,
the image transforms, and build_lists on images."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gfvideo.data import (AnnotationError, Flip, ImageDataset, build_pipeline, clip_rng,
                          collate_clips, resize_clip)
from gfvideo.data.image_transforms import RandomResizedCrop, ResizeCenterCrop, random_resized_box
from gfvideo.data.images import detect_layout, load_ilsvrc_ids, load_images

WNIDS = ['n01440764', 'n01443537', 'n01484850']          # sorted: class index 0, 1, 2
# ILSVRC2012 ids are not in sorted-wnid order (id 1 is not n01440764 in the real devkit either)
IDS = {1: 'n01484850', 2: 'n01440764', 3: 'n01443537'}
VAL = {1: 'n01443537', 2: 'n01484850', 3: 'n01440764', 4: 'n01443537'}   # image k -> wnid


def write_image(path: Path, seed: int, size: tuple[int, int] = (20, 14)) -> Path:
    """A small smooth image (JPEG or PNG by suffix) whose colours depend on ``seed``."""
    y, x = np.mgrid[:size[1], :size[0]]
    base = (x * 7 + y * 5 + 37 * seed) % 200 + 20
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.stack([base, 255 - base, base // 2], -1).astype(np.uint8)).save(path)
    return path


def val_name(k: int) -> str:
    return f'ILSVRC2012_val_{k:08d}.JPEG'


@pytest.fixture(scope='module')
def root(tmp_path_factory) -> Path:
    r = tmp_path_factory.mktemp('images')
    for i, (wnid, n) in enumerate(zip(WNIDS[::-1], (1, 2, 1))):      # written out of order
        for k in range(n):
            write_image(r / 'train' / wnid / f'{wnid}_{k + 1}.JPEG', 3 * i + k)
    write_image(r / 'train' / WNIDS[1] / 'extra.png', 9)                 # PNG counts too
    (r / 'train' / WNIDS[0] / '._n01440764_1.JPEG').write_bytes(b'mac fork')  # hidden: skipped
    (r / 'train' / WNIDS[0] / 'notes.txt').write_text('not an image')   # not an image extension
    for k, wnid in VAL.items():
        write_image(r / 'val' / val_name(k), 10 + k)
        write_image(r / 'val_folders' / wnid / val_name(k), 10 + k)
    (r / 'LOC_val_solution.csv').write_text(
        'ImageId,PredictionString\n' + ''.join(
            f'{val_name(k)[:-5]},{wnid} 1 2 10 12 {wnid} 0 0 5 5 \n'
            for k, wnid in sorted(VAL.items(), reverse=True)))
    (r / 'ground_truth.txt').write_text(''.join(
        f'{next(i for i, w in IDS.items() if w == wnid)}\n' for _, wnid in sorted(VAL.items())))
    (r / 'ids.txt').write_text(''.join(f'{i} {w}\n' for i, w in IDS.items()))
    for name, seed in (('zebra/z1.jpg', 20), ('apple/a1.jpg', 21), ('apple/a2.png', 22)):
        write_image(r / 'generic' / name, seed)
    return r


def labels(records) -> list[tuple[str, int]]:
    return [(r.clip_id, r.label) for r in records]


# ----------------------------------------------------------------------------- layouts

def test_folder_layouts(root, tmp_path):
    recs, names = load_images(root / 'train')
    assert names == WNIDS and detect_layout(root / 'train', None) == 'folders'
    assert labels(recs) == [('n01440764/n01440764_1.JPEG', 0), ('n01443537/extra.png', 1),
                            ('n01443537/n01443537_1.JPEG', 1), ('n01443537/n01443537_2.JPEG', 1),
                            ('n01484850/n01484850_1.JPEG', 2)]
    recs, names = load_images(root / 'generic', layout='folders')
    assert names == ['apple', 'zebra']
    assert labels(recs) == [('apple/a1.jpg', 0), ('apple/a2.png', 0), ('zebra/z1.jpg', 1)]
    # val sorted into class folders, indexed by the train split's classes file
    classes = tmp_path / 'classes.txt'
    classes.write_text('\n'.join(['n00000000', *WNIDS]) + '\n')
    ds = ImageDataset(root / 'val_folders', class_names_file=str(classes), test_mode=True)
    assert ds.metainfo['classes'] == ['n00000000', *WNIDS]
    assert labels(ds.records) == [(f'{w}/{val_name(k)}', WNIDS.index(w) + 1)
                                  for k, w in sorted(VAL.items(), key=lambda kv: (kv[1], kv[0]))]
    with pytest.raises(AnnotationError, match='not in the given class names'):
        load_images(root / 'generic', class_names=WNIDS)
    with pytest.raises(AnnotationError, match='no class folders; flat ImageNet val'):
        ImageDataset(root / 'val')


def test_flat_val_loc_csv_and_devkit_agree(root):
    want = [(val_name(k), WNIDS.index(w)) for k, w in sorted(VAL.items())]
    loc = ImageDataset(root / 'val', ann_file=root / 'LOC_val_solution.csv', test_mode=True)
    devkit = ImageDataset(root / 'val', ann_file=root / 'ground_truth.txt',
                          meta_file=root / 'ids.txt', test_mode=True)
    assert labels(loc.records) == labels(devkit.records) == want
    assert loc.metainfo['classes'] == devkit.metainfo['classes'] == WNIDS
    assert detect_layout(root / 'val', root / 'LOC_val_solution.csv') == 'loc_csv'
    assert detect_layout(root / 'val', root / 'ground_truth.txt') == 'devkit'
    assert loc[0]['label'] == want[0][1] and loc[0]['clip_id'] == val_name(1)


def test_devkit_meta_mat_through_scipy(root, monkeypatch):
    """meta.mat's synsets as scipy.io.loadmat gives them (ILSVRC2012_ID, WNID, words, gloss,
    num_children, ...): only leaves (num_children == 0) are classes."""
    dtype = [('ILSVRC2012_ID', 'i8'), ('WNID', 'U9'), ('words', 'U8'), ('gloss', 'U8'),
             ('num_children', 'i8')]
    synsets = np.array([(i, w, 'x', 'y', 0) for i, w in IDS.items()] + [(1001, 'n00001740', 'entity',
                        'g', 3)], dtype=dtype)
    scipy = types.ModuleType('scipy')
    scipy.io = types.SimpleNamespace(loadmat=lambda path, squeeze_me: {'synsets': synsets})
    monkeypatch.setitem(sys.modules, 'scipy', scipy)
    monkeypatch.setitem(sys.modules, 'scipy.io', scipy.io)
    assert load_ilsvrc_ids('meta.mat') == IDS
    monkeypatch.setitem(sys.modules, 'scipy', None)                  # not installed
    with pytest.raises(AnnotationError, match='meta.mat needs scipy'):
        load_ilsvrc_ids('meta.mat')


def test_list_layout(root, tmp_path):
    lst = tmp_path / 'val.txt'
    lst.write_text(f'val/{val_name(2)} 2\n# a comment\nval/{val_name(1)} 1\n')
    assert detect_layout(root, lst) == 'list'
    ds = ImageDataset(root, ann_file=lst, test_mode=True)
    assert labels(ds.records) == [(f'val/{val_name(2)}', 2), (f'val/{val_name(1)}', 1)]
    assert ds.metainfo['classes'] == ['0', '1', '2']          # no classes file: numbered
    lst.write_text(f'val/{val_name(2)} 5 2\n')
    with pytest.raises(AnnotationError, match='rawframe list'):
        ImageDataset(root, ann_file=lst, layout='list')


@pytest.mark.parametrize('line, reason', [
    ('ILSVRC2012_val_00000009', 'expected 2 fields, got 1'),
    ('ILSVRC2012_val_00000009,', 'empty ImageId or PredictionString'),
    ('ILSVRC2012_val_00000001,n01440764 1 2 3 4', 'ILSVRC2012_val_00000001 repeats line 2'),
    ('ILSVRC2012_val_00000009,n09999999 1 2 3 4', "wnid 'n09999999' is not in the class names")])
def test_bad_loc_line_names_file_and_line(root, tmp_path, line, reason):
    csv = tmp_path / 'loc.csv'
    csv.write_text(f'ImageId,PredictionString\nILSVRC2012_val_00000001,n01440764 1 2 3 4\n{line}\n')
    with pytest.raises(AnnotationError, match=rf'loc\.csv:3: {reason}'):
        load_images(root / 'val', 'loc_csv', csv, class_names=WNIDS)


def test_bad_devkit_and_ids_lines_name_file_and_line(root, tmp_path):
    gt, ids = tmp_path / 'gt.txt', tmp_path / 'ids.txt'
    gt.write_text('1\n\n2\n')                                   # a blank line would shift images
    with pytest.raises(AnnotationError, match=r"gt\.txt:2: expected an ILSVRC2012 id"):
        load_images(root / 'val', 'devkit', gt, root / 'ids.txt')
    gt.write_text('1\n7\n')
    with pytest.raises(AnnotationError, match=r"gt\.txt:2: expected an ILSVRC2012 id"):
        load_images(root / 'val', 'auto', gt, root / 'ids.txt')
    ids.write_text('1 n01440764\n1 n01443537\n')
    with pytest.raises(AnnotationError, match=r'ids\.txt:2: expected "<ILSVRC2012_ID> <wnid>"'):
        load_images(root / 'val', 'devkit', gt, ids)
    with pytest.raises(ValueError, match='needs meta_file'):
        load_images(root / 'val', 'devkit', gt)


# ----------------------------------------------------------------------------- samples

@pytest.fixture()
def broken(root, tmp_path) -> Path:
    """A class folder of 5 images: #1 truncated, #2 empty, #3 not an image; #0 and #4 fine."""
    d = tmp_path / 'broken'
    good = write_image(d / 'a' / '0.jpg', 1).read_bytes()
    scan = good.find(b'\xff\xda')                               # headers whole, half the scan
    (d / 'a' / '1.jpg').write_bytes(good[:scan + (len(good) - scan) // 2])
    (d / 'a' / '2.jpg').write_bytes(b'')
    (d / 'a' / '3.jpg').write_text('<html>not found</html>')
    write_image(d / 'b' / '4.png', 2)
    return d


def test_corrupt_empty_and_non_images_are_replaced_and_counted(broken):
    ds = ImageDataset(broken, [dict(type='CenterCrop', size=12)], test_mode=True)
    s = ds[1]
    assert s['index'] == 4 and s['clip_id'] == 'b/4.png' and s['label'] == 1
    assert s['replaced'] == [str(broken / 'a' / f'{i}.jpg') for i in (1, 2, 3)]
    assert ds[0]['replaced'] == [] and ds[0]['clip_id'] == 'a/0.jpg'
    reasons = {Path(p).name: r for p, r in ds.skipped.items()}
    assert reasons['2.jpg'] == 'zero-byte file'
    assert 'truncated' in reasons['1.jpg'] and 'cannot identify' in reasons['3.jpg']
    batch = collate_clips([ds[i] for i in range(5)])
    assert batch['data_samples']['indices'].tolist() == [0, 4, 4, 4, 4]
    assert len(batch['data_samples']['replaced']) == 3 + 2 + 1   # as the hook counts videos
    ds.max_retries = 1
    with pytest.raises(RuntimeError, match='2 clips in a row from index 1 failed'):
        ds[1]


def test_sample_is_a_one_frame_clip_and_collates(root):
    pipeline = [dict(type='RandomResizedCrop', size=12), dict(type='Flip', flip_ratio=0.5),
                dict(type='FormatShape')]
    ds = ImageDataset(str(root / 'train'), pipeline)
    s = ds[(1, 2)]                                              # (epoch, index), as EpochSampler
    assert set(s) >= {'inputs', 'label', 'clip_id', 'index', 'frame_inds', 'replaced', 'num_views'}
    assert s['inputs'].dtype == torch.uint8 and s['inputs'].shape == (1, 3, 12, 12)
    assert (s['label'], s['clip_id'], s['index'], s['num_views']) == (
        1, 'n01443537/n01443537_1.JPEG', 2, 1)
    assert s['frame_inds'].tolist() == [0] and s['replaced'] == []
    assert torch.equal(ds[(1, 2)]['inputs'], s['inputs'])       # reproducible from (seed, epoch, index)
    batch = collate_clips([ds[(0, i)] for i in range(len(ds))])
    assert batch['inputs'].shape == (5, 1, 3, 12, 12)
    assert batch['data_samples']['labels'].tolist() == [0, 1, 1, 1, 2]
    assert batch['data_samples']['frame_inds'].tolist() == [[0]] * 5
    assert build_pipeline(pipeline).output_hw() == (12, 12)
    one = ImageDataset.for_path(dict(type='ImageDataset', data_prefix='gone', pipeline=pipeline),
                                root / 'val' / val_name(1))
    assert one[0]['inputs'].shape == (1, 3, 12, 12) and one[0]['clip_id'] == val_name(1)


# ----------------------------------------------------------------------------- transforms

def test_random_resized_crop_window_and_fallback():
    for i in range(200):
        rng = clip_rng(0, 0, i)
        x, y, w, h = random_resized_box(30, 40, (0.08, 1.0), (3 / 4, 4 / 3), rng)
        assert 0 <= x and x + w <= 40 and 0 <= y and y + h <= 30
        assert 0.08 * 1200 * 0.8 <= w * h <= 1200 and 3 / 4 * 0.8 <= w / h <= 4 / 3 * 1.25
    # nothing of the whole area fits a 4:1 frame: centred, cut to the nearest ratio in range
    assert random_resized_box(8, 32, (1, 1), (3 / 4, 4 / 3), clip_rng(0, 0, 0)) == (10, 0, 11, 8)
    assert random_resized_box(32, 8, (1, 1), (3 / 4, 4 / 3), clip_rng(0, 0, 0)) == (0, 10, 8, 11)
    imgs = np.arange(2 * 30 * 40 * 3, dtype=np.uint8).reshape(2, 30, 40, 3) % 251
    crop = RandomResizedCrop((16, 8))
    a = crop(dict(imgs=imgs, rng=clip_rng(3, 1, 5)))
    b = crop(dict(imgs=imgs, rng=clip_rng(3, 1, 5)))
    assert a['imgs'].shape == (2, 8, 16, 3) and np.array_equal(a['imgs'], b['imgs'])
    x1, y1, x2, y2 = a['crop_bbox']
    assert np.array_equal(a['imgs'], resize_clip(imgs[:, y1:y2, x1:x2], (16, 8)))
    with pytest.raises(ValueError, match='scale'):
        RandomResizedCrop(8, scale=(0.5, 0.1))


def test_resize_center_crop_and_flip():
    t = ResizeCenterCrop(224)
    assert t.resize.scale == (-1, 256) and t.output_hw(None) == (224, 224)
    imgs = np.zeros((1, 20, 30, 3), dtype=np.uint8)
    imgs[:, :, :15] = 200                                            # left half bright
    out = ResizeCenterCrop(14, crop_pct=0.875)(dict(imgs=imgs))     # short side 16, then 14
    assert out['imgs'].shape == (1, 14, 14, 3) and out['crop_bbox'].tolist() == [5, 1, 19, 15]
    flipped = Flip(flip_ratio=1.0)(dict(imgs=out['imgs'], rng=clip_rng(0, 0, 0)))
    assert flipped['flip'] and flipped['imgs'][0, 0, -1, 0] == out['imgs'][0, 0, 0, 0] == 200


# ----------------------------------------------------------------------------- build_lists

def test_build_lists_on_images(root, broken, tmp_path, capsys):
    from data_prep.build_lists import main
    out = tmp_path / 'lists'
    classes = tmp_path / 'given_classes.txt'
    classes.write_text('\n'.join(['a', 'b', *WNIDS]) + '\n')
    assert main(['images', '--train-root', str(broken), '--val-root', str(root / 'val'),
                 '--val-ann', str(root / 'LOC_val_solution.csv'), '--classes', str(classes),
                 '--absolute', '--out', str(out), '--no-progress']) == 0
    assert 'missing or unreadable images: 2' in capsys.readouterr().out  # the header check
    assert (out / 'classes.txt').read_text().split() == ['a', 'b', *WNIDS]
    missing = [line.split('\t') for line in (out / 'missing.txt').read_text().splitlines()]
    assert [m[:2] for m in missing] == [['train', 'a/2.jpg'], ['train', 'a/3.jpg']]
    assert missing[0][2] == 'zero-byte file' and 'cannot identify' in missing[1][2]
    assert (out / 'train.txt').read_text().splitlines() == [
        f'{broken}/a/0.jpg 0', f'{broken}/a/1.jpg 0', f'{broken}/b/4.png 1']  # 1.jpg: truncated
    assert (out / 'val.txt').read_text().splitlines() == [
        f'{root}/val/{val_name(k)} {WNIDS.index(w) + 2}' for k, w in sorted(VAL.items())]
    # --decode finds the truncated file too; the list then feeds ImageDataset's list layout
    assert main(['images', '--train-root', str(broken), '--decode', '--out', str(out),
                 '--no-progress']) == 0
    assert 'missing or unreadable images: 3' in capsys.readouterr().out
    ds = ImageDataset(broken, ann_file=out / 'train.txt', class_names_file=str(out / 'classes.txt'))
    assert labels(ds.records) == [('a/0.jpg', 0), ('b/4.png', 1)]
    assert ds.metainfo['classes'] == ['a', 'b']
    assert main(['images', '--val-root', str(root / 'val'), '--val-ann', str(root / 'ground_truth.txt'),
                 '--out', str(out), '--no-progress']) == 1
    assert 'needs meta_file' in capsys.readouterr().err
