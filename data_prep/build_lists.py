#!/usr/bin/env python
"""Build gfvideo list files (train.txt / val.txt, classes.txt, missing.txt) from official annotations.

    python data_prep/build_lists.py sthv1 --labels something-something-v1-labels.csv \\
        --train something-something-v1-train.csv --val something-something-v1-validation.csv \\
        --frames-root 20bn-something-something-v1 --class-order file --out data/sthv1
    python data_prep/build_lists.py sthv2 --labels something-something-v2-labels.json \\
        --train something-something-v2-train.json --val something-something-v2-validation.json \\
        --videos-root 20bn-something-something-v2 --out data/sthv2
    python data_prep/build_lists.py kinetics400 --train train.csv --val validate.csv \\
        --train-root data/k400/videos_train --val-root data/k400/videos_val --out data/k400
    python data_prep/build_lists.py folder --train-root my/train --val-root my/val --out data/mine
    python data_prep/build_lists.py images --train-root ILSVRC/Data/CLS-LOC/train \\
        --val-root ILSVRC/Data/CLS-LOC/val --val-ann LOC_val_solution.csv --out data/imagenet
    python data_prep/build_lists.py images --train-root train --val-root val \\
        --val-ann ILSVRC2012_validation_ground_truth.txt --meta ilsvrc2012_ids.txt --out data/imagenet

Rows whose video (or frame folder) is missing are left out of the lists, written to
missing.txt and counted in the summary; for images also files that are empty or not images
(with --decode every image is decoded, so corrupt and truncated files are found too). List
paths are relative to --data-prefix (default: the videos/frames root, or the folder holding
both split roots) unless --absolute.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

try:
    import gfvideo  # noqa: F401
except ImportError:                     # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gfvideo.data.annotations import VIDEO_EXTS, AnnotationError, resolve_class_names  # noqa: E402
from gfvideo.data.images import LAYOUTS  # noqa: E402
from gfvideo.data.lists import (folder_splits, format_summary, image_splits,  # noqa: E402
                                kinetics400_splits, sthv1_splits, sthv2_splits, write_lists)
from gfvideo.data.readers import check_image, read_image  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='dataset', required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument('--out', required=True, help='output folder for the lists')
        sp.add_argument('--data-prefix', help='write list paths relative to this folder')
        sp.add_argument('--absolute', action='store_true', help='write absolute paths')
        sp.add_argument('--no-progress', action='store_true', help='no progress bars')

    s1 = sub.add_parser('sthv1', help='Something-Something V1 (JPEG frame folders)')
    s1.add_argument('--labels', required=True, help='something-something-v1-labels.csv')
    s1.add_argument('--train', help='something-something-v1-train.csv (id;label)')
    s1.add_argument('--val', help='something-something-v1-validation.csv (id;label)')
    s1.add_argument('--frames-root', required=True, help='folder holding <id>/00001.jpg ...')
    s1.add_argument('--class-order', required=True, choices=['file', 'alphabetical'],
                    help="class index: label-file order (mmaction2) or sorted names "
                         "(TSM-official); checkpoints from the two disagree")
    common(s1)

    s2 = sub.add_parser('sthv2', help='Something-Something V2 (webm videos)')
    s2.add_argument('--labels', required=True, help='something-something-v2-labels.json')
    s2.add_argument('--train', help='something-something-v2-train.json')
    s2.add_argument('--val', help='something-something-v2-validation.json')
    s2.add_argument('--videos-root', required=True, help='folder holding <id>.webm')
    s2.add_argument('--ext', default='.webm', help='video extension')
    common(s2)

    k = sub.add_parser('kinetics400', help='Kinetics-400 (CSV + folder per class)')
    k.add_argument('--train', help='training CSV (label,youtube_id,time_start,time_end,split)')
    k.add_argument('--val', help='validation CSV')
    k.add_argument('--videos-root', help='folder per class for every split')
    k.add_argument('--train-root', help='training videos (default: --videos-root)')
    k.add_argument('--val-root', help='validation videos (default: --videos-root)')
    common(k)

    f = sub.add_parser('folder', help='any dataset laid out as <root>/<class>/<video>')
    f.add_argument('--train-root', help='training videos, a folder per class')
    f.add_argument('--val-root', help='validation videos, a folder per class')
    f.add_argument('--exts', default=','.join(VIDEO_EXTS), help='video extensions, comma separated')
    common(f)

    im = sub.add_parser('images', help='images: ImageNet train/val layouts, class folders, lists')
    im.add_argument('--train-root', help='training images (ImageNet: a folder per wnid)')
    im.add_argument('--val-root', help='validation images: class folders or flat ILSVRC2012_val_*')
    for split in ('train', 'val'):
        im.add_argument(f'--{split}-ann', help=f'{split} annotations: LOC_val_solution.csv, '
                        f'ILSVRC2012_validation_ground_truth.txt or a "path label" list')
        im.add_argument(f'--{split}-layout', default='auto', choices=LAYOUTS,
                        help=f'{split} layout (default: auto)')
    im.add_argument('--meta', help="the devkit's meta.mat (needs scipy) or '<ILSVRC2012_ID> <wnid>' "
                                   'lines, for the devkit ground truth')
    im.add_argument('--classes', help='class names, one per line (default: sorted wnids / folders '
                                      'of the first split)')
    im.add_argument('--decode', action='store_true',
                    help='decode every image (finds corrupt and truncated files; slower)')
    common(im)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    note, unit, check = '', 'videos', None
    try:
        if args.dataset == 'images':
            roots = {s: r for s, r in (('train', args.train_root), ('val', args.val_root)) if r}
            if not roots:
                parser.error('give --train-root and/or --val-root')
            names = resolve_class_names(dict(class_names_file=args.classes))[1]
            splits, names = image_splits(
                roots, {s: getattr(args, f'{s}_layout') for s in roots},
                {s: getattr(args, f'{s}_ann') for s in roots}, args.meta, names)
            root = os.path.commonpath([os.path.abspath(r) for r in roots.values()])
            unit, check = 'or unreadable images', \
                (lambda path: read_image(path, draft=True)) if args.decode else check_image
        elif args.dataset == 'folder':
            roots = {s: r for s, r in (('train', args.train_root), ('val', args.val_root)) if r}
            if not roots:
                parser.error('give --train-root and/or --val-root')
            exts = tuple(e if e.startswith('.') else '.' + e for e in args.exts.split(',') if e)
            splits, names = folder_splits(roots, exts)
            root = os.path.commonpath([os.path.abspath(r) for r in roots.values()])
        else:
            files = {s: a for s, a in (('train', args.train), ('val', args.val)) if a}
            if not files:
                parser.error('give --train and/or --val')
            if args.dataset == 'sthv1':
                splits, names = sthv1_splits(files, args.labels, args.frames_root, args.class_order)
                root, note = args.frames_root, f'class order: {args.class_order}'
            elif args.dataset == 'sthv2':
                splits, names = sthv2_splits(files, args.labels, args.videos_root, args.ext)
                root = args.videos_root
            else:
                roots = {'train': args.train_root or args.videos_root,
                         'val': args.val_root or args.videos_root}
                if any(roots[s] is None for s in files):
                    parser.error('give --videos-root, or --train-root / --val-root per split')
                splits, names = kinetics400_splits(files, {s: roots[s] for s in files})
                root = os.path.commonpath([os.path.abspath(roots[s]) for s in files])
        if args.absolute:
            root = None
        elif args.data_prefix:
            root = args.data_prefix
        summaries = write_lists(splits, names, args.out, root=root, check=check,
                                rawframes=args.dataset == 'sthv1', progress=not args.no_progress)
    except (AnnotationError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(format_summary(summaries, args.out, len(names), note, unit))
    print(f'data_prefix for these lists: {root}' if root else 'list paths are absolute')
    return 0


if __name__ == '__main__':
    sys.exit(main())
