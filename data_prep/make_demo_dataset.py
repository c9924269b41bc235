#!/usr/bin/env python
"""Generate gfvideo's built-in demo dataset (Something-Something V2 layout + mmaction2 lists).

A small square moves across a cluttered background in one of 4 directions, carrying
one of 3 fine textures; label = texture * 4 + direction (12 classes). At the 32x32
glance the texture averages away (only position and motion remain); a full-resolution
patch around the object is needed to name it. See gfvideo/data/demo.py.

``--images`` writes the still-image demo instead (GFNet on images): PNG files in class
folders per split (ImageNet's train layout), the label one of 5 such textures on a square
at a random place among flat ones. See gfvideo/data/demo_images.py.

    python data_prep/make_demo_dataset.py --out data/demo
    python data_prep/make_demo_dataset.py --images --out data/demo_images
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import gfvideo  # noqa: F401
except ImportError:                     # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from gfvideo.data.demo import CLASS_NAMES, make_demo_dataset, object_speed, render_clip  # noqa: E402
from gfvideo.data.demo_images import IMAGE_CLASS_NAMES, make_image_demo_dataset, render_image  # noqa: E402

# Defaults per kind: (videos, images).
DEFAULTS = dict(out=('data/demo', 'data/demo_images'), num_train=(1200, 2000), num_val=(300, 500),
                num_test=(300, 500))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--images', action='store_true',
                   help='write the still-image demo (PNG class folders) instead of the videos')
    p.add_argument('--out', help='output directory (default: data/demo, with --images data/demo_images)')
    p.add_argument('--seed', type=int, default=0, help='random seed (same seed, same frames)')
    p.add_argument('--num-train', type=int, help='training clips (default: 1200, with --images 2000 images)')
    p.add_argument('--num-val', type=int, help='held-out clips carved from training data (for fitting '
                   'early-exit thresholds; default: 300, with --images 500)')
    p.add_argument('--num-test', type=int, help='test clips (default: 300, with --images 500)')
    p.add_argument('--frames', type=int, default=8, help='frames per clip (12 fps)')
    p.add_argument('--size', type=int, default=128, help='frame side in px (multiple of 4)')
    p.add_argument('--workers', type=int, default=2, help='worker processes rendering and encoding clips (0: in this process)')
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, values in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, values[args.images])
    if min(args.num_train, args.num_val, args.num_test) < 0:
        parser.error('clip counts must be >= 0')
    if args.images:
        return make_images(parser, args)
    try:                                   # reject bad --frames/--size before any work
        object_speed(args.frames, args.size)
        render_clip(np.random.default_rng(0), 0, args.frames, args.size)
    except ValueError as err:
        parser.error(str(err))
    t0 = time.perf_counter()
    summary = make_demo_dataset(args.out, seed=args.seed, num_train=args.num_train, num_val=args.num_val,
                                num_test=args.num_test, frames=args.frames, size=args.size,
                                workers=args.workers, progress=True)
    wall = time.perf_counter() - t0
    out = Path(args.out)
    size_mb = sum(f.stat().st_size for f in (out / 'videos').glob('*.webm')) / 2**20
    counts = summary['counts']
    print(f'demo dataset in {out}: {len(CLASS_NAMES)} classes, '
          f"{counts['train']} train / {counts['val']} val / {counts['test']} test clips, "
          f'{args.frames} frames of {args.size}x{args.size} px, VP9 {size_mb:.1f} MiB')
    for split in ('train', 'val', 'test'):
        per_class = summary['per_class'][split]
        span = f'{min(per_class)}-{max(per_class)}' if per_class else '0'
        print(f'  {split:5s}: {out / (split + ".json")}, {out / (split + ".txt")} '
              f'({span} clips per class)')
    print(f'  labels: {out / "labels.json"}, {out / "classes.txt"}; boxes: {out / "boxes.json"}')
    print(f'wall time {wall:.1f} s ({args.workers} workers)')
    return 0


def make_images(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--images``: the still-image demo (``--frames`` and ``--workers`` do not apply)."""
    try:
        render_image(np.random.default_rng(0), 0, args.size)
    except ValueError as err:
        parser.error(str(err))
    summary = make_image_demo_dataset(args.out, seed=args.seed, num_train=args.num_train,
                                      num_val=args.num_val, num_test=args.num_test, size=args.size)
    out, counts = Path(args.out), summary['counts']
    size_mb = sum(f.stat().st_size for f in out.glob('*/*/*.png')) / 2**20
    print(f'image demo dataset in {out}: {len(IMAGE_CLASS_NAMES)} classes, '
          f"{counts['train']} train / {counts['val']} val / {counts['test']} test images, "
          f'{args.size}x{args.size} px PNG, {size_mb:.1f} MiB')
    for split in ('train', 'val', 'test'):
        per_class = summary['per_class'][split]
        span = f'{min(per_class)}-{max(per_class)}' if per_class else '0'
        print(f'  {split:5s}: {out / split}/<class>/<id>.png, {out / (split + ".txt")} ({span} per class)')
    print(f'  classes: {out / "classes.txt"}; boxes: {out / "boxes.json"}')
    print(f"wall time {summary['seconds']:.1f} s")
    return 0


if __name__ == '__main__':
    sys.exit(main())
