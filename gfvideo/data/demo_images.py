"""The built-in image demo dataset: still images whose class only a full-resolution look tells.

The still-image counterpart of :mod:`gfvideo.data.demo` (for GFNet on images: a glance at
the whole image at low resolution, then focus patches at full resolution). Every image
shows a smooth, low-contrast background with several flat squares ("distractors") and one
square, the object, at a random place. The object's *class* is its fine luminance texture,
one of five with a period of 4 px: horizontal, vertical, diagonal or anti-diagonal stripes
2 px wide, or a checkerboard of 2-px cells. Its two colours average to a flat colour of the
distractors' hue, a little brighter.

Why it needs glance and focus: everything sits on the 4-px grid and the object's side is a
multiple of 4 px, so in any 4x4 block every texture holds as much of its bright colour as
of its dark one. The glance (the image brought to 1/4 of its side with area averaging, or
with the antialiased bilinear filter of ``Glance``, whose 8-tap triangle gives each phase of
a 4-px period the same weight) sees the object as a flat blob, the brightest of the squares:
it can tell *where* the object is, not *which* texture it carries (at most 1/5 right). A
full-resolution patch on the object shows the texture at once; a patch placed at random
mostly misses it (the object covers 1/28 of the image).

Layout written by :func:`make_image_demo_dataset` (ImageNet's train layout, one folder per
class, for each split)::

    OUT/train/<class>/<id>.png, OUT/val/<class>/<id>.png, OUT/test/<class>/<id>.png
                               lossless RGB PNG, ids unique over the splits
    OUT/classes.txt            one class name per line, in index order (= sorted folder names)
    OUT/train.txt, val.txt, test.txt    "<class>/<id>.png <label>" per line (paths relative to
                               the split's folder: ImageDataset's 'list' layout)
    OUT/boxes.json             {"<class>/<id>.png": [[x0, y0, x1, y1]]} normalised to [0, 1]
                               (one box: an image is a 1-frame clip; keys are ImageDataset's
                               clip ids)
    OUT/meta.json              the generation settings and the summary

``val`` is carved from training data: use it to fit early-exit thresholds, not to report
accuracy. A horizontal flip swaps diagonal and anti-diagonal stripes (``FLIP_LABEL_MAP``).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .demo import GLANCE_FACTOR, TEXTURE_PERIOD, check_size, smooth_field, to_uint8

__all__ = ['IMAGE_CLASS_NAMES', 'IMAGE_FLIP_LABEL_MAP', 'IMAGE_SPLITS', 'image_object_size',
           'image_texture', 'render_image', 'make_image_demo_dataset']

# Sorted, so that ImageDataset's class folders (sorted names) and classes.txt agree.
IMAGE_CLASS_NAMES = ('anti_diagonal_stripes', 'checkerboard', 'diagonal_stripes',
                     'horizontal_stripes', 'vertical_stripes')
# A horizontal flip turns diagonal stripes into anti-diagonal ones and back (by name, so
# ``Flip`` binds it to the dataset's class order).
IMAGE_FLIP_LABEL_MAP = {'anti_diagonal_stripes': 'diagonal_stripes',
                        'diagonal_stripes': 'anti_diagonal_stripes'}
IMAGE_SPLITS = ('train', 'val', 'test')


def image_object_size(size: int) -> int:
    """Side of the object and of the distractors in px: about 3/16 of the image (24 px at 128),
    a multiple of 4, at least 8."""
    return max(8, GLANCE_FACTOR * int(round(3 * size / (16 * GLANCE_FACTOR))))


def image_texture(name: str, side: int, phase_y: int, phase_x: int) -> np.ndarray:
    """+1/-1 pattern ``[side, side]`` of texture ``name``, period 4 px, shifted by a phase.

    Every 4x4 window holds eight +1 and eight -1 (every row of it two of each for the
    stripes that vary along x), so area downsampling by 4 reduces it to exactly zero."""
    y = np.arange(side)[:, None] + phase_y
    x = np.arange(side)[None, :] + phase_x
    if name == 'horizontal_stripes':
        bits = np.broadcast_to(y // 2 % 2, (side, side))
    elif name == 'vertical_stripes':
        bits = np.broadcast_to(x // 2 % 2, (side, side))
    elif name == 'checkerboard':
        bits = (y // 2 + x // 2) % 2
    elif name == 'diagonal_stripes':          # down to the right
        bits = (x + y) // 2 % 2
    elif name == 'anti_diagonal_stripes':     # down to the left
        bits = (x - y) // 2 % 2
    else:
        raise ValueError(f'unknown texture {name!r}')
    return np.where(bits == 0, 1.0, -1.0)


def render_image(rng: np.random.Generator, label: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Draw one image of class ``label``: ``(image, box)``, ``image`` uint8 ``[size, size, 3]``
    (RGB), ``box`` float32 ``[4]``, the object's ``(x0, y0, x1, y1)`` in px (exclusive ends)."""
    check_size(size)
    label = int(label)
    if not 0 <= label < len(IMAGE_CLASS_NAMES):
        raise ValueError(f'label must be in [0, {len(IMAGE_CLASS_NAMES)}), got {label}')
    side, g = image_object_size(size), GLANCE_FACTOR
    cells, cell_side = size // g, side // g

    # Colours as in the video demo (integers, so the two texture colours still average
    # exactly after rounding): the object is its mean colour +- a grey contrast, that mean
    # is the distractors' colour lifted by a grey offset. Without motion, brightness is the
    # glance's only cue to where the object is, so the lift (60-70) exceeds anything the
    # background or a distractor reaches above the base colour (at most 38 + 8 + 10 and 15):
    # the object is always the brightest blob. Ranges keep every colour inside 0-255.
    contrast = np.rint(rng.uniform(35.0, 45.0))
    mean = np.rint(rng.uniform(50.0, 110.0, size=3))
    lift = np.rint(rng.uniform(60.0, 70.0))
    bg_shift = rng.choice([-1.0, 1.0]) * rng.uniform(22.0, 38.0) + rng.uniform(-8.0, 8.0, size=3)
    canvas = mean + bg_shift + smooth_field(rng, size, amplitude=10.0)        # [S, S, 3]

    # Flat distractors of the object's size and similar colours, on the glance grid; the
    # first has exactly the object's base colour. They may overlap each other, not the object.
    x, y = (int(v) * g for v in rng.integers(0, cells - cell_side + 1, size=2))
    n_distractors = int(rng.integers(6, 11))
    colours = mean + rng.uniform(-15.0, 15.0, size=(n_distractors, 3))
    colours[0] = mean
    for colour in colours:
        for _ in range(20):   # a place off the object (the last try is kept, then covered)
            dx, dy = (int(v) * g for v in rng.integers(0, cells - cell_side + 1, size=2))
            if abs(dx - x) >= side or abs(dy - y) >= side:
                break
        canvas[dy:dy + side, dx:dx + side] = colour

    pattern = image_texture(IMAGE_CLASS_NAMES[label], side,
                            *(int(v) for v in rng.integers(0, TEXTURE_PERIOD, size=2)))
    canvas[y:y + side, x:x + side] = mean + lift + contrast * pattern[..., None]
    return to_uint8(canvas), np.array([x, y, x + side, y + side], dtype=np.float32)


def _split_labels(seed: int, split_id: int, n: int) -> np.ndarray:
    """Balanced labels for a split (as even as ``n`` allows), in a seeded order."""
    return np.random.default_rng([seed, split_id, 1]).permutation(np.arange(n) % len(IMAGE_CLASS_NAMES))


def make_image_demo_dataset(out_dir: str | os.PathLike, *, seed: int = 0, num_train: int = 2000,
                            num_val: int = 500, num_test: int = 500, size: int = 128) -> dict:
    """Generate the image demo dataset under ``out_dir`` (layout: the module docstring).

    Deterministic given ``seed``: image ``i`` of split ``s`` (0 train, 1 val, 2 test) is drawn
    from ``np.random.default_rng([seed, s, i, 1])``. Ids run from 1 upwards over train, val,
    test; labels are balanced over classes within each split. Returns a summary dict.
    """
    from PIL import Image

    t0 = time.perf_counter()
    check_size(size)
    counts = dict(zip(IMAGE_SPLITS, (int(num_train), int(num_val), int(num_test))))
    if min(counts.values()) < 0:
        raise ValueError(f'image counts must be >= 0, got {counts}')
    out = Path(out_dir)
    boxes, per_class, next_id = {}, {}, 1
    for split_id, split in enumerate(IMAGE_SPLITS):
        for name in IMAGE_CLASS_NAMES:
            (out / split / name).mkdir(parents=True, exist_ok=True)
        lines = []
        labels = _split_labels(seed, split_id, counts[split])
        for index, label in enumerate(labels):
            image, box = render_image(np.random.default_rng([seed, split_id, index, 1]), label, size)
            clip_id = f'{IMAGE_CLASS_NAMES[label]}/{next_id}.png'
            next_id += 1
            Image.fromarray(image).save(out / split / clip_id, compress_level=1)
            boxes[clip_id] = [np.round(box / size, 6).tolist()]
            lines.append(f'{clip_id} {int(label)}\n')
        (out / f'{split}.txt').write_text(''.join(lines))
        per_class[split] = np.bincount(labels, minlength=len(IMAGE_CLASS_NAMES)).tolist()
    (out / 'classes.txt').write_text(''.join(f'{name}\n' for name in IMAGE_CLASS_NAMES))
    (out / 'boxes.json').write_text(json.dumps(boxes) + '\n')
    summary = dict(out_dir=str(out), num_classes=len(IMAGE_CLASS_NAMES), counts=counts,
                   per_class=per_class, seconds=round(time.perf_counter() - t0, 3))
    meta = dict(seed=int(seed), size=int(size), format='png', glance_factor=GLANCE_FACTOR,
                object_size=image_object_size(size), texture_period=TEXTURE_PERIOD,
                classes=list(IMAGE_CLASS_NAMES), flip_label_map=IMAGE_FLIP_LABEL_MAP, summary=summary)
    (out / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')
    return summary
