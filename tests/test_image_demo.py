"""The image demo: the generator's files and layout, and GFNet on images through the tools
(train, resume, test with early exit, infer on a PNG)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from gfvideo.compute.exits import sidecar_path
from gfvideo.data.demo_images import IMAGE_CLASS_NAMES, image_texture, render_image
from gfvideo.data.images import ImageDataset

from .conftest import TINY_GLANCE_FOCUS, run_tool

PNG = b'\x89PNG\r\n\x1a\n'
CONFIG = 'configs/demo/images/gfnet_e2e.py'


@pytest.fixture(scope='module')
def tiny_images(tmp_path_factory):
    """10 train / 5 val / 5 test images of 64x64 (12-px objects), by the command line."""
    out = tmp_path_factory.mktemp('demo_images')
    proc = run_tool('data_prep/make_demo_dataset.py', '--images', '--out', str(out), '--num-train', '10',
                    '--num-val', '5', '--num-test', '5', '--size', '64')
    assert '10 train / 5 val / 5 test images' in proc.stdout
    return out


def image_options(data, *, epochs: int = 1) -> list[str]:
    """``--cfg-options`` pointing the image demo config at ``data``, tiny and quick (64 px)."""
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_prefix={data}/{split}',
                 f'{split}_dataloader.dataset.class_names_file={data}/classes.txt',
                 f'{split}_dataloader.batch_size=4']
    opts += [f'{split}_dataloader.dataset.pipeline.0.size=64' for split in ('val', 'test')]
    return opts + [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
                   'model.input_size=64', 'default_hooks.logger.interval=1', *TINY_GLANCE_FOCUS]


def test_generator_writes_class_folders_imagedataset_reads(tiny_images):
    classes = (tiny_images / 'classes.txt').read_text().split()
    assert classes == list(IMAGE_CLASS_NAMES) == sorted(classes)      # folder order = index order
    boxes = json.loads((tiny_images / 'boxes.json').read_text())
    seen = set()
    for split, count in (('train', 10), ('val', 5), ('test', 5)):
        files = sorted((tiny_images / split).glob('*/*'))
        assert len(files) == count and all(f.read_bytes()[:8] == PNG for f in files)
        by_folders = ImageDataset(tiny_images / split, test_mode=True)
        by_list = ImageDataset(tiny_images / split, ann_file=tiny_images / f'{split}.txt', test_mode=True,
                               class_names_file=str(tiny_images / 'classes.txt'))
        assert by_folders.metainfo['classes'] == classes
        folder_labels = {r.clip_id: r.label for r in by_folders.records}
        assert folder_labels == {r.clip_id: r.label for r in by_list.records}
        for clip_id, label in folder_labels.items():
            assert classes[label] == clip_id.split('/')[0]
            assert len(boxes[clip_id]) == 1 and clip_id not in seen     # one box per image; ids unique
            seen.add(clip_id)
        sample = by_folders[0]
        assert tuple(sample['inputs'].shape) == (1, 3, 64, 64) and sample['frame_inds'].tolist() == [0]
    assert seen == set(boxes)


@pytest.mark.parametrize('label', range(len(IMAGE_CLASS_NAMES)))
def test_the_glance_sees_a_flat_square_a_patch_sees_the_texture(label, tmp_path):
    image, box = render_image(np.random.default_rng([3, label]), label, size=64)
    x0, y0, x1, y1 = box.astype(int)
    obj = image[y0:y1, x0:x1].astype(float)
    blocks = obj.reshape((y1 - y0) // 4, 4, (x1 - x0) // 4, 4, 3).mean((1, 3))
    assert np.ptp(blocks, axis=(0, 1)).max() == 0                    # 4x4 area means: one flat colour
    luma = obj.mean(-1)
    signs = np.sign(luma - luma.mean())
    matches = [abs((signs * image_texture(name, x1 - x0, py, px)).mean()) == 1
               for name in IMAGE_CLASS_NAMES for py in range(4) for px in range(4)]
    assert sum(matches[label * 16:(label + 1) * 16]) >= 1 and sum(matches) == sum(matches[label * 16:(label + 1) * 16])
    # brighter than every other square of the image: the glance can find it
    outside = image.astype(float).mean(-1)
    outside[y0:y1, x0:x1] = -1
    assert obj.mean() > outside.max()
    # the PNG keeps every pixel
    path = tmp_path / 'image.png'
    Image.fromarray(image).save(path)
    assert np.array_equal(np.asarray(Image.open(path).convert('RGB')), image)


def test_gfnet_on_images_trains_resumes_tests_with_exits_and_infers(tiny_images, tmp_path):
    work = tmp_path / 'work'
    run_tool('tools/train.py', CONFIG, '--work-dir', str(work), '--cfg-options', *image_options(tiny_images))
    assert (work / 'epoch_1.pth').exists()
    proc = run_tool('tools/train.py', CONFIG, '--work-dir', str(work), '--resume',
                    '--cfg-options', *image_options(tiny_images, epochs=2))
    assert 'resumed' in (proc.stdout + proc.stderr).lower() and (work / 'epoch_2.pth').exists()
    ckpt = (work / 'last_checkpoint').read_text().strip()
    assert ckpt.endswith('epoch_2.pth')
    # early exit: a hand-written thresholds sidecar sends every image out after focus step 1
    sidecar_path(ckpt).write_text(json.dumps({'0.01': [2.0, 0.0, 0.0, 0.0]}))
    proc = run_tool('tools/test.py', CONFIG, ckpt, '--budget', '0.01', '--work-dir', str(tmp_path / 'test'),
                    '--out', str(tmp_path / 'metrics.json'), '--cfg-options', *image_options(tiny_images))
    assert re.search(r'\bmean_exit=1(\.0+)?(\s|$)', proc.stdout), proc.stdout[-2000:]
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['mean_exit'] == 1
    image = sorted((tiny_images / 'test').glob('*/*.png'))[0]
    out = tmp_path / 'out'
    proc = run_tool('tools/infer.py', CONFIG, ckpt, str(image), '--out', str(out), '--device', 'cpu',
                    '--cfg-options', *image_options(tiny_images))
    result = json.loads(proc.stdout)
    assert result['top5'][0]['name'] in IMAGE_CLASS_NAMES and result['exit'] == 3
    assert result['sampled_frames'] == [0] and result['frame_hw'] == [64, 64]
    assert [look['frames'] for look in result['looks']] == [[0]] * 3              # one patch a step
    assert (out / f'{image.stem}_focus.png').read_bytes()[:8] == PNG
    assert not (out / f'{image.stem}_focus.gif').exists()                          # one frame: no GIF
    assert json.loads((out / f'{image.stem}.json').read_text())['top5'] == result['top5']
