#!/usr/bin/env python
"""Extract videos to JPEG frame folders (00001.jpg, ...), resumable and in parallel.

    python data_prep/extract_frames.py data/k400/val.txt --data-prefix data/k400 \\
        --out data/k400_frames --short-side 256 --workers 8
    python data_prep/extract_frames.py videos/ --out frames/

Each video goes to OUT/<its path relative to the list's data prefix or the folder,
without extension>. Frames are written into <name>.tmp and renamed when complete:
rerunning after an interruption skips complete folders and redoes .tmp ones.
Videos that cannot be read are listed in the report (TSV) and the run goes on.
OUT/frames.txt is a rawframe list (frame_dir num_frames label) of the folders.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import gfvideo  # noqa: F401
except ImportError:                     # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gfvideo.data.annotations import VIDEO_EXTS, AnnotationError  # noqa: E402
from gfvideo.data.checking import collect_videos  # noqa: E402
from gfvideo.data.extraction import (extract_videos, write_extract_report,  # noqa: E402
                                     write_frame_list)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('source', metavar='LIST_OR_FOLDER',
                   help='a "path label" list file, or a folder searched recursively for videos')
    p.add_argument('--out', required=True, help='output folder for the frame folders')
    p.add_argument('--data-prefix', default='', help='folder the list paths are relative to')
    p.add_argument('--short-side', type=int, default=None,
                   help='resize so the shorter side has this many px (default: keep size)')
    p.add_argument('--quality', type=int, default=90, help='JPEG quality')
    p.add_argument('--workers', type=int, default=2, help='worker processes (0: in this process, no timeout)')
    p.add_argument('--timeout', type=float, default=600.0, help='seconds allowed per video')
    p.add_argument('--backend', default='auto', choices=['auto', 'decord', 'pyav'],
                   help='decoder (auto: decord, PyAV when decord fails)')
    p.add_argument('--report', help='TSV of failed videos (default: OUT/extract_failures.tsv)')
    p.add_argument('--exts', default=','.join(VIDEO_EXTS), help='extensions searched in a folder')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.short_side is not None and args.short_side < 1:
        parser.error('--short-side must be >= 1')
    exts = tuple(e if e.startswith('.') else '.' + e for e in args.exts.split(',') if e)
    out = Path(args.out)
    try:
        records = collect_videos(args.source, args.data_prefix, exts)
        summary = extract_videos(records, out, short_side=args.short_side, workers=args.workers,
                                 timeout=args.timeout if args.timeout > 0 else None,
                                 quality=args.quality, backend=args.backend,
                                 progress=not args.no_progress)
    except AnnotationError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    report = Path(args.report) if args.report else out / 'extract_failures.tsv'
    write_extract_report(report, summary)
    listed, unlisted = write_frame_list(out / 'frames.txt', records, summary)
    print(f'{len(records)} videos: {len(summary.done)} extracted '
          f'({sum(summary.done.values())} frames), {len(summary.skipped)} already complete, '
          f'{len(summary.failed)} failed (see {report})')
    print(f'frame list: {out / "frames.txt"} ({listed} folders)')
    if unlisted:
        print(f'{len(unlisted)} folders left out of the list (whitespace in the name), '
              f'e.g. {unlisted[0]!r}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
