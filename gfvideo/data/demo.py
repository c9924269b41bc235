"""The built-in demo dataset: a synthetic task that needs both a glance and a focus.

Every clip shows a smooth, low-contrast background with several static flat squares
("distractors") and one moving square, the object. The object's *identity* is one of
three fine luminance textures with a period of 4 px (horizontal stripes, vertical
stripes, a checkerboard of 2-px cells) whose two colours average to a flat colour of
the distractors' hue, a little brighter; its *motion* is one of four directions. The label combines both
(``texture * 4 + direction``, 12 classes).

Why it needs glance and focus: the object and the distractors are placed on the 4-px
grid and the object's side is a multiple of 4 px, so downsampling the frames by 4
with area averaging (the 32x32 glance of 128x128 frames) turns every 4x4 block of the
texture into exactly its mean colour. At the glance the object is a flat blob, told
apart by being brighter and by moving; which texture it carries is gone. A full-resolution patch
around the object shows the texture at once. (Naive strided or bilinear resizing
without antialiasing aliases the texture and leaks the identity: glance with area
averaging or an antialiased filter.)

Layout written by :func:`make_demo_dataset` (Something-Something V2 style plus
mmaction2 lists)::

    OUT/videos/<id>.webm       VP9, 12 fps
    OUT/labels.json            {"class name": "0", ...}  (values are strings)
    OUT/train.json, val.json, test.json
                               [{"id": "17", "label": name, "template": name, "placeholders": []}]
    OUT/train.txt, val.txt, test.txt    "videos/<id>.webm <label>" per line
    OUT/classes.txt            one class name per line, in index order
    OUT/boxes.json             {id: [[x0, y0, x1, y1] per frame]} normalised to [0, 1]
    OUT/meta.json              the generation settings and the summary

``val`` is carved from training data: use it to fit early-exit thresholds, not to
report accuracy.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from ..runtime import tune_malloc
from .encoding import write_video

__all__ = [
    'CLASS_NAMES', 'TEXTURES', 'DIRECTIONS', 'FLIP_LABEL_MAP', 'GLANCE_FACTOR', 'FPS',
    'SPLITS', 'object_size', 'object_speed', 'render_clip', 'make_demo_dataset', 'check_size', 'smooth_field',
    'to_uint8',
]

TEXTURES = ('horizontal stripes', 'vertical stripes', 'checkerboard')
DIRECTIONS = ('right', 'left', 'down', 'up')
# Unit motion per direction, as (dx, dy) in image coordinates (y grows downwards).
_DIRECTION_STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))
CLASS_NAMES = tuple(f'{t} moving {d}' for t in TEXTURES for d in DIRECTIONS)
# A horizontal flip keeps every texture's identity and swaps right and left.
FLIP_LABEL_MAP = {t * 4 + a: t * 4 + b for t in range(len(TEXTURES)) for a, b in ((0, 1), (1, 0))}

GLANCE_FACTOR = 4      # the glance sees the frames downsampled by this factor
TEXTURE_PERIOD = 4     # px; equal to GLANCE_FACTOR, so every 4x4 block of a texture averages out
FPS = 12
SPLITS = ('train', 'val', 'test')


def object_size(size: int) -> int:
    """Side of the object and of the distractors in px: about 1/8 of the frame
    (16 px at 128), a multiple of 4, at least 8."""
    return max(8, GLANCE_FACTOR * int(round(size / (8 * GLANCE_FACTOR))))


def object_speed(frames: int, size: int) -> int:
    """Object speed in px per frame: a multiple of 4 px (the glance grid) such that
    the object travels 40-60 % of the frame over the clip (nearest to 50 % when no
    multiple of 4 lands in that range), and stays inside the frame."""
    if frames < 2:
        return 0
    steps = frames - 1
    room = size - object_size(size)                      # the most it may travel
    k_max = room // (GLANCE_FACTOR * steps)
    if k_max < 1:
        raise ValueError(f'{frames} frames of {size} px leave no room for the object to move '
                         f'4 px per frame; use fewer frames or a larger size')
    ks = np.arange(1, k_max + 1)
    frac = ks * GLANCE_FACTOR * steps / size
    inside = ks[(frac >= 0.4) & (frac <= 0.6)]
    k = int(inside[0]) if inside.size else int(ks[np.argmin(np.abs(frac - 0.5))])
    return GLANCE_FACTOR * k


def check_size(size: int) -> None:
    if size % GLANCE_FACTOR or size < 32:
        raise ValueError(f'size must be a multiple of {GLANCE_FACTOR} and at least 32, got {size}')


def _texture(kind: int, side: int, phase_y: int, phase_x: int) -> np.ndarray:
    """+1/-1 pattern [side, side] of texture ``kind``, period 4 px, shifted by a phase.

    Any 4x4 window of any of these patterns holds eight +1 and eight -1, so area
    downsampling by 4 reduces it to exactly zero.
    """
    y = (np.arange(side)[:, None] + phase_y) // 2 % 2
    x = (np.arange(side)[None, :] + phase_x) // 2 % 2
    if kind == 0:      # horizontal stripes: rows of 2 px
        bits = np.broadcast_to(y, (side, side))
    elif kind == 1:    # vertical stripes: columns of 2 px
        bits = np.broadcast_to(x, (side, side))
    elif kind == 2:    # checkerboard of 2-px cells
        bits = (y + x) % 2
    else:
        raise ValueError(f'unknown texture {kind}')
    return np.where(bits == 0, 1.0, -1.0)


def smooth_field(rng: np.random.Generator, size: int, amplitude: float, waves: int = 4) -> np.ndarray:
    """Smooth random field [size, size, 3]: a few low-frequency plane waves per channel,
    built from separable products (cos(a + b) = cos a cos b - sin a sin b)."""
    coords = (np.arange(size) + 0.5) / size
    freq = rng.uniform(-2.0, 2.0, size=(2, 3 * waves))                         # cycles per frame
    phase = rng.uniform(0, 2 * np.pi, size=3 * waves)
    amp = rng.uniform(0.3, 1.0, size=(3, waves))
    ay = 2 * np.pi * coords[:, None] * freq[0]                                  # [S, 3W]
    bx = 2 * np.pi * coords[:, None] * freq[1] + phase                          # [S, 3W]
    w = (amp / amp.sum(-1, keepdims=True)).reshape(-1)                          # [3W]
    field = (np.einsum('yk,xk->yxk', np.cos(ay) * w, np.cos(bx))
             - np.einsum('yk,xk->yxk', np.sin(ay) * w, np.sin(bx)))              # [S, S, 3W]
    return amplitude * field.reshape(size, size, 3, waves).sum(-1)


def render_clip(rng: np.random.Generator, label: int, frames: int = 8, size: int = 128
                ) -> tuple[np.ndarray, np.ndarray]:
    """Draw one clip of class ``label``.

    Returns ``(video, boxes)``: ``video`` uint8 [frames, size, size, 3] (RGB) and
    ``boxes`` float32 [frames, 4], the object's ``(x0, y0, x1, y1)`` per frame in
    pixels (``x1``, ``y1`` exclusive).
    """
    check_size(size)
    label = int(label)
    if not 0 <= label < len(CLASS_NAMES):
        raise ValueError(f'label must be in [0, {len(CLASS_NAMES)}), got {label}')
    texture, direction = divmod(label, len(DIRECTIONS))
    side = object_size(size)
    speed = object_speed(frames, size)
    g = GLANCE_FACTOR
    cells = size // g                                    # glance-grid positions per axis

    # Colours. The object's two texture colours are its mean colour +- a grey offset
    # (a luminance contrast: yuv420p halves chroma resolution, luma survives). Its mean
    # is the distractors' colour lifted by a grey offset: at the glance the object is the
    # one bright blob (where), of the clutter's hue, with no texture left (not which).
    # Integers, so that after rounding to uint8 the two colours still average exactly.
    contrast = np.rint(rng.uniform(40.0, 60.0))
    mean = np.rint(rng.uniform(60.0, 130.0, size=3))
    lift = np.rint(rng.uniform(45.0, 55.0))
    bg_shift = rng.choice([-1.0, 1.0]) * rng.uniform(22.0, 38.0) + rng.uniform(-8.0, 8.0, size=3)

    # Background: smooth, low-contrast field around a colour near the object's.
    canvas = mean + bg_shift + smooth_field(rng, size, amplitude=10.0)       # [S, S, 3]

    # Static distractors: flat squares of the object's size and similar colours, on the
    # glance grid like the object; the first one has exactly the object's base colour.
    n_distractors = int(rng.integers(6, 11))
    colours = mean + rng.uniform(-15.0, 15.0, size=(n_distractors, 3))
    colours[0] = mean
    cell_side = side // g
    pos = rng.integers(0, cells - cell_side + 1, size=(n_distractors, 2)) * g     # (x, y)
    for (x, y), colour in zip(pos, colours):
        canvas[y:y + side, x:x + side] = colour

    # The object's trajectory: straight, constant speed, on the 4-px grid.
    dx, dy = _DIRECTION_STEPS[direction]
    travel = speed * (frames - 1)
    t = np.arange(frames)
    start = np.empty(2, dtype=np.int64)                  # (x, y) at frame 0
    for axis, step in enumerate((dx, dy)):
        if step == 0:
            start[axis] = rng.integers(0, cells - cell_side + 1) * g
        else:
            free_cells = (size - side - travel) // g     # start cells left free along the motion
            first = rng.integers(0, free_cells + 1) * g
            start[axis] = first if step > 0 else first + travel
    xs = start[0] + dx * speed * t
    ys = start[1] + dy * speed * t
    boxes = np.stack([xs, ys, xs + side, ys + side], axis=1).astype(np.float32)

    pattern = _texture(texture, side, int(rng.integers(0, TEXTURE_PERIOD)), int(rng.integers(0, TEXTURE_PERIOD)))
    patch = mean + lift + contrast * pattern[..., None]                         # [side, side, 3]

    video = np.empty((frames, size, size, 3), dtype=np.uint8)
    video[:] = to_uint8(canvas)
    patch = to_uint8(patch)
    for i in range(frames):
        video[i, ys[i]:ys[i] + side, xs[i]:xs[i] + side] = patch
    return video, boxes


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- dataset

def _split_labels(seed: int, split_id: int, n: int) -> np.ndarray:
    """Balanced labels for a split (as even as ``n`` allows), in a seeded order."""
    labels = np.arange(n) % len(CLASS_NAMES)
    return np.random.default_rng([seed, split_id]).permutation(labels)


def _make_one(task: tuple) -> tuple[str, list]:
    out_dir, seed, split_id, index, vid, label, frames, size = task
    rng = np.random.default_rng([seed, split_id, index])
    video, boxes = render_clip(rng, label, frames, size)
    write_video(Path(out_dir) / 'videos' / f'{vid}.webm', video, fps=FPS, codec='vp9')
    return vid, np.round(boxes / size, 6).tolist()


def _write_json(path: Path, obj, indent: int | None = None) -> None:
    path.write_text(json.dumps(obj, indent=indent) + '\n')


def make_demo_dataset(out_dir: str | os.PathLike, *, seed: int = 0, num_train: int = 1200,
                      num_val: int = 300, num_test: int = 300, frames: int = 8, size: int = 128,
                      workers: int = 2, progress: bool = False) -> dict:
    """Generate the demo dataset under ``out_dir`` (see the module docstring for the layout).

    Deterministic given ``seed``: clip ``i`` of split ``s`` (0 train, 1 val, 2 test) is
    drawn from ``np.random.default_rng([seed, s, i])``. Ids run from 1 upwards over
    train, then val, then test; labels are balanced over classes within each split.
    ``workers`` >= 1 runs that many worker processes (0: everything in this
    process, slower: see ``tune_malloc``); ``progress`` shows a tqdm bar. Returns a
    summary dict (counts, per-class counts, seconds).
    """
    t0 = time.perf_counter()
    check_size(size)
    if frames < 2:
        raise ValueError(f'frames must be at least 2, got {frames}')
    object_speed(frames, size)                          # raises early if it cannot move
    out = Path(out_dir)
    (out / 'videos').mkdir(parents=True, exist_ok=True)

    counts = dict(zip(SPLITS, (int(num_train), int(num_val), int(num_test))))
    if min(counts.values()) < 0:
        raise ValueError(f'clip counts must be >= 0, got {counts}')
    tasks, records = [], {}
    next_id = 1
    for split_id, split in enumerate(SPLITS):
        labels = _split_labels(seed, split_id, counts[split])
        records[split] = []
        for index, label in enumerate(labels):
            vid = str(next_id)
            next_id += 1
            tasks.append((str(out), int(seed), split_id, index, vid, int(label), int(frames), int(size)))
            records[split].append((vid, int(label)))

    boxes = {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), unit='clip', desc='demo clips')
    workers = min(int(workers), len(tasks))
    if workers <= 0:
        results = map(_make_one, tasks)
        pool = None
    else:
        # Forked where available: works from unguarded scripts and notebooks (spawn
        # would re-import ``__main__``); the workers only run numpy and PyAV. Their
        # malloc is tuned, the caller's is left alone.
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context('fork' if 'fork' in methods else 'spawn')
        pool = ctx.Pool(workers, initializer=tune_malloc)
        results = pool.imap_unordered(_make_one, tasks, chunksize=8)
    try:
        for vid, b in results:
            boxes[vid] = b
            if bar is not None:
                bar.update()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if bar is not None:
            bar.close()

    _write_json(out / 'labels.json', {name: str(i) for i, name in enumerate(CLASS_NAMES)}, indent=1)
    (out / 'classes.txt').write_text(''.join(f'{name}\n' for name in CLASS_NAMES))
    for split in SPLITS:
        entries = [{'id': vid, 'label': CLASS_NAMES[lab], 'template': CLASS_NAMES[lab], 'placeholders': []}
                   for vid, lab in records[split]]
        _write_json(out / f'{split}.json', entries)
        (out / f'{split}.txt').write_text(''.join(f'videos/{vid}.webm {lab}\n' for vid, lab in records[split]))
    _write_json(out / 'boxes.json', {vid: boxes[vid] for split in SPLITS for vid, _ in records[split]})

    summary = {
        'out_dir': str(out),
        'num_classes': len(CLASS_NAMES),
        'counts': counts,
        'per_class': {split: np.bincount([lab for _, lab in records[split]],
                                         minlength=len(CLASS_NAMES)).tolist() for split in SPLITS},
        'seconds': round(time.perf_counter() - t0, 3),
    }
    meta = {
        'seed': int(seed), 'frames': int(frames), 'size': int(size), 'fps': FPS, 'codec': 'vp9',
        'glance_factor': GLANCE_FACTOR, 'object_size': object_size(size),
        'object_speed_px_per_frame': object_speed(frames, size),
        'label_rule': 'texture_index * 4 + direction_index',
        'textures': list(TEXTURES), 'directions': list(DIRECTIONS),
        'flip_label_map': {str(k): v for k, v in FLIP_LABEL_MAP.items()},
        'summary': summary,
    }
    _write_json(out / 'meta.json', meta, indent=1)
    return summary
