#!/usr/bin/env python
"""Generate gfvideo's built-in demo dataset (Something-Something V2 layout + mmaction2 lists).

A small square moves across a cluttered background in one of 4 directions, carrying
one of 3 fine textures; label = texture * 4 + direction (12 classes). At the 32x32
glance the texture averages away (only position and motion remain); a full-resolution
patch around the object is needed to name it. See gfvideo/data/demo.py.

    python data_prep/make_demo_dataset.py --out data/demo
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--out', default='data/demo', help='output directory')
    p.add_argument('--seed', type=int, default=0, help='random seed (same seed, same frames)')
    p.add_argument('--num-train', type=int, default=1200, help='training clips')
    p.add_argument('--num-val', type=int, default=300,
                   help='held-out clips carved from training data (for fitting early-exit thresholds)')
    p.add_argument('--num-test', type=int, default=300, help='test clips')
    p.add_argument('--frames', type=int, default=8, help='frames per clip (12 fps)')
    p.add_argument('--size', type=int, default=128, help='frame side in px (multiple of 4)')
    p.add_argument('--workers', type=int, default=2, help='worker processes rendering and encoding clips (0: in this process)')
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if min(args.num_train, args.num_val, args.num_test) < 0:
        parser.error('clip counts must be >= 0')
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


if __name__ == '__main__':
    sys.exit(main())
