"""Finding videos that will not train: unopenable, stream-less, undecodable or short files.

Each file is decoded in full with PyAV (frames are decoded, not converted) in a
worker process with a wall-clock limit, so one file that hangs a decoder is reported
as ``timeout`` instead of stalling the run (see ``workers.run_tasks``).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .annotations import VIDEO_EXTS, AnnotationError, VideoRecord, load_list_file
from .decoding import ClipSource, DecodeError
from .workers import run_tasks

__all__ = ['VideoCheck', 'collect_videos', 'check_video', 'check_videos', 'write_check_report',
           'PROBLEMS']

# Statuses other than 'ok'; 'timeout', 'crashed' and 'error' come from the worker pool.
PROBLEMS = ('missing', 'empty', 'unopenable', 'no_video_stream', 'no_frames', 'short',
            'timeout', 'crashed', 'error')

# A frame count estimated from duration x frame rate (WebM headers carry no count) is
# only approximate: a file is "short" when it falls below the estimate by more than this.
_ESTIMATE_SLACK = 0.02

# ClipSource's DecodeError reasons that have a status of their own (others: 'unopenable').
_STATUS = {'file not found': 'missing', 'zero-byte file': 'empty', 'no video stream': 'no_video_stream'}


@dataclass
class VideoCheck:
    """One file's verdict. ``header_frames``: what the container claims (-1 unknown);
    ``decoded_frames``: frames that actually decode (-1 not counted)."""

    path: str
    status: str
    detail: str = ''
    header_frames: int = -1
    decoded_frames: int = -1

    @property
    def ok(self) -> bool:
        return self.status == 'ok'


def collect_videos(source: str | os.PathLike, data_prefix: str = '',
                   exts: tuple[str, ...] = VIDEO_EXTS) -> list[VideoRecord]:
    """The videos named by a ``path label`` list file, or found under a folder.

    ``clip_id`` is set to a name that is unique within the source: the path relative
    to the folder (or to ``data_prefix``, or as written in the list) without extension.
    Folder videos get label -1. A rawframe list (``frame_dir n label``) is rejected.
    """
    source = os.fspath(source)
    exts = tuple(e.lower() for e in exts)
    if os.path.isdir(source):
        found = []
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
            for name in sorted(filenames):
                if name.lower().endswith(exts) and not name.startswith('.'):
                    path = os.path.join(dirpath, name)
                    rel = os.path.splitext(os.path.relpath(path, source))[0]
                    found.append(VideoRecord(path=path, label=-1, clip_id=rel))
        return found
    records = load_list_file(source, data_prefix)
    out = []
    for rec in records:
        if rec.num_frames is not None:
            raise AnnotationError(f'{source}: a rawframe list (frame_dir num_frames label); '
                                  f'expected a video list (path label)')
        if data_prefix:
            rel = os.path.relpath(rec.path, data_prefix)
        elif not os.path.isabs(rec.path):
            rel = os.path.normpath(rec.path)
        else:
            rel = os.path.basename(rec.path)
        out.append(VideoRecord(path=rec.path, label=rec.label,
                               clip_id=os.path.splitext(rel)[0]))
    names = [r.clip_id for r in out]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise AnnotationError(f'{source}: two videos map to the name {dup!r}; give '
                              f'--data-prefix so relative paths keep them apart')
    return out


def check_video(path: str | os.PathLike) -> VideoCheck:
    """Open and fully decode one file with PyAV; return its verdict (never raises
    for a bad file)."""
    path = os.fspath(path)
    try:
        source = ClipSource(path, backend='pyav', folders=False)
        header, exact = source.header_frames()
        decoded = source.count_decodable()
    except DecodeError as exc:
        return VideoCheck(path, _STATUS.get(exc.reason, 'unopenable'), exc.reason)
    except Exception as exc:  # a demuxer error that PyAV's frame iteration does not absorb
        return VideoCheck(path, 'unopenable', f'{type(exc).__name__}: {exc}')
    if decoded == 0:
        return VideoCheck(path, 'no_frames', 'no decodable frame', header, 0)
    if header > 0:
        slack = 0 if exact else max(1, int(header * _ESTIMATE_SLACK))
        if decoded < header - slack:
            kind = 'header says' if exact else 'duration x frame rate suggests'
            return VideoCheck(path, 'short', f'{decoded} decodable frames, {kind} {header}',
                              header, decoded)
    return VideoCheck(path, 'ok', '', header, decoded)


def check_videos(paths: Iterable[str], workers: int = 2, timeout: float | None = 60.0,
                 progress: bool = True) -> Iterator[VideoCheck]:
    """``check_video`` over ``paths`` in worker processes, each file under ``timeout``
    seconds (a file over it is reported as ``timeout``); yields in completion order."""
    paths = list(paths)
    results = run_tasks(check_video, paths, workers=workers, timeout=timeout)
    for res in tqdm(results, total=len(paths), desc='checking', unit='video',
                    disable=not progress):
        yield res.value if res.status == 'ok' else VideoCheck(res.item, res.status, res.error)


def write_check_report(path: str | os.PathLike, checks: Iterable[VideoCheck],
                       include_ok: bool = False) -> int:
    """Write a TSV (``path status header_frames decoded_frames detail``) of the problem
    files (all files with ``include_ok``), sorted by path; return the rows written."""
    rows = sorted((c for c in checks if include_ok or not c.ok), key=lambda c: c.path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('path\tstatus\theader_frames\tdecoded_frames\tdetail\n')
        for c in rows:
            detail = ' '.join(c.detail.split())
            f.write(f'{c.path}\t{c.status}\t{c.header_frames}\t{c.decoded_frames}\t{detail}\n')
    return len(rows)
