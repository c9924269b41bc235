#!/usr/bin/env python
"""Find videos that cannot be trained on: unopenable, no video stream, no decodable frame, short.

    python data_prep/check_videos.py data/k400/val.txt --data-prefix data/k400 --workers 8
    python data_prep/check_videos.py videos_val/ --timeout 120 --report bad_videos.tsv

Every file is fully decoded (PyAV) in a worker process; a file whose decode takes
longer than --timeout seconds has its worker killed and is reported as 'timeout'.
The report is a TSV of problem files: path, status, header_frames, decoded_frames,
detail. Exit status 0 even when problems are found (they are the output).
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

try:
    import gfvideo  # noqa: F401
except ImportError:                     # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gfvideo.data.annotations import VIDEO_EXTS, AnnotationError  # noqa: E402
from gfvideo.data.checking import check_videos, collect_videos, write_check_report  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('source', metavar='LIST_OR_FOLDER',
                   help='a "path label" list file, or a folder searched recursively for videos')
    p.add_argument('--data-prefix', default='', help='folder the list paths are relative to')
    p.add_argument('--workers', type=int, default=2, help='worker processes (0: in this process, no timeout)')
    p.add_argument('--timeout', type=float, default=60.0, help='seconds allowed per file')
    p.add_argument('--report', default='check_report.tsv', help='TSV report of problem files')
    p.add_argument('--all', action='store_true', help='list good files in the report too')
    p.add_argument('--exts', default=','.join(VIDEO_EXTS), help='extensions searched in a folder')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    exts = tuple(e if e.startswith('.') else '.' + e for e in args.exts.split(',') if e)
    try:
        records = collect_videos(args.source, args.data_prefix, exts)
    except AnnotationError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    checks = list(check_videos([r.path for r in records], workers=args.workers,
                               timeout=args.timeout if args.timeout > 0 else None,
                               progress=not args.no_progress))
    written = write_check_report(args.report, checks, include_ok=args.all)
    counts = collections.Counter(c.status for c in checks)
    bad = len(checks) - counts['ok']
    print(f'{len(checks)} videos checked: {counts["ok"]} ok, {bad} with problems'
          + (' (' + ', '.join(f'{k} {v}' for k, v in sorted(counts.items()) if k != 'ok') + ')'
             if bad else ''))
    print(f'report: {args.report} ({written} rows)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
