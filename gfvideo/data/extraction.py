"""Videos to JPEG frame folders (``{:05d}.jpg``, 1-based), resumable and parallel.

A video is written into ``<name>.tmp`` and renamed to ``<name>`` only when every
frame is on disk, so a folder without ``.tmp`` is always complete: a rerun skips
those and redoes any ``.tmp`` left by an interrupted run (its frames are not trusted:
the process may have died mid-write). Videos that fail (missing, empty, corrupt, no
decodable frame, over the time limit) are reported and leave no folder behind.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from tqdm import tqdm

from .annotations import AnnotationError, VideoRecord
from .decoding import ClipSource, DecodeError, count_frame_folder
from .transforms import resize_clip
from .workers import run_tasks

__all__ = ['extract_video', 'extract_videos', 'ExtractSummary', 'short_side_size',
           'write_extract_report', 'write_frame_list']

_CHUNK = 32          # frames decoded / resized / written together
TMP_SUFFIX = '.tmp'
FRAME_TMPL = '{:05d}.jpg'


def short_side_size(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """``(w, h)`` scaled so that the shorter side is ``short_side`` (None: unchanged)."""
    if not short_side:
        return width, height
    if height <= width:
        return max(1, round(width * short_side / height)), short_side
    return short_side, max(1, round(height * short_side / width))


def _write_frames(source: ClipSource, folder: Path, short_side: int | None, quality: int,
                  fresh_folder: Callable[[], None]) -> int:
    """Write every frame of ``source`` into ``folder``; a backend restart starts over."""
    from PIL import Image

    count = 0

    def restart() -> None:
        nonlocal count
        fresh_folder()
        count = 0

    for chunk in source.chunks(_CHUNK, restart=restart):
        size = short_side_size(chunk.shape[1], chunk.shape[2], short_side)
        chunk = resize_clip(chunk, size)
        for frame in chunk:
            count += 1
            Image.fromarray(frame).save(folder / FRAME_TMPL.format(count), quality=quality)
    return count


def extract_video(path: str | os.PathLike, out_dir: str | os.PathLike,
                  short_side: int | None = None, quality: int = 90,
                  backend: str = 'auto') -> int:
    """Write every decodable frame of ``path`` to ``out_dir/00001.jpg ...``; return the count.

    Decodes with decord when it can (the frames it indexed), else, or on any decord
    error, with PyAV from the start (all decodable frames, none repeated). Works in
    ``out_dir.tmp`` and renames it at the end; raises DecodeError (leaving nothing
    behind) for unreadable files and files without a decodable frame.
    """
    path, final = os.fspath(path), Path(out_dir)
    tmp = final.with_name(final.name + TMP_SUFFIX)

    def fresh_tmp() -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)

    try:
        with ClipSource(path, backend, folders=False) as source:
            fresh_tmp()
            count = _write_frames(source, tmp, short_side, quality, fresh_tmp)
        if count == 0:
            raise DecodeError(path, 'no decodable frame')
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():  # only when called directly: extract_videos skips complete folders
        shutil.rmtree(final)
    os.rename(tmp, final)
    return count


@dataclass
class ExtractSummary:
    """``done``: name -> frames written now; ``skipped``: name -> frames of folders already
    complete; ``failed``: (video path, status, reason)."""

    done: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def _one_thread() -> None:
    """Worker processes already run in parallel: one resize thread each."""
    import torch
    torch.set_num_threads(1)
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:
        pass


def _task(args: tuple) -> tuple[str, int | str]:
    path, out_dir, short_side, quality, backend = args
    try:
        return 'ok', extract_video(path, out_dir, short_side, quality, backend)
    except DecodeError as exc:
        return 'failed', exc.reason


def _check_name(name: str) -> str:
    parts = PurePath(name).parts
    if not parts or PurePath(name).is_absolute() or '..' in parts:
        raise AnnotationError(f'cannot place frames of {name!r} inside the output folder; '
                              f'give --data-prefix so list paths are relative to it')
    return name


def extract_videos(records: list[VideoRecord], out_root: str | os.PathLike,
                   short_side: int | None = None, workers: int = 2,
                   timeout: float | None = 600.0, quality: int = 90, backend: str = 'auto',
                   progress: bool = True) -> ExtractSummary:
    """Extract each record's video to ``out_root/<clip_id>`` in worker processes.

    Complete folders are skipped; leftover ``.tmp`` folders are redone. A video over
    ``timeout`` seconds has its worker killed and is reported as ``timeout``.
    """
    out_root = Path(out_root)
    summary = ExtractSummary()
    todo = []
    for rec in records:
        final = out_root / _check_name(rec.clip_id)
        if final.is_dir():
            summary.skipped[rec.clip_id] = count_frame_folder(final)
        else:
            todo.append((rec.path, str(final), short_side, quality, backend))
    names = {str(out_root / _check_name(r.clip_id)): r.clip_id for r in records}
    results = run_tasks(_task, todo, workers=workers, timeout=timeout, initializer=_one_thread)
    for res in tqdm(results, total=len(todo), desc='extracting', unit='video',
                    disable=not progress):
        path, final = res.item[0], res.item[1]
        if res.status == 'ok' and res.value[0] == 'ok':
            summary.done[names[final]] = res.value[1]
            continue
        if res.status == 'ok':
            status, reason = 'failed', res.value[1]
        else:  # timeout / crashed / error: the worker may have left its .tmp behind
            status, reason = res.status, res.error
            shutil.rmtree(final + TMP_SUFFIX, ignore_errors=True)
        summary.failed.append((path, status, reason))
    return summary


def write_extract_report(path: str | os.PathLike, summary: ExtractSummary) -> None:
    """TSV of the videos that failed: ``path status detail``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('path\tstatus\tdetail\n')
        for video, status, reason in sorted(summary.failed):
            f.write(f'{video}\t{status}\t{" ".join(str(reason).split())}\n')


def write_frame_list(path: str | os.PathLike, records: list[VideoRecord],
                     summary: ExtractSummary) -> tuple[int, list[str]]:
    """Write a rawframe list (``frame_dir num_frames label``, dirs relative to the output
    folder) of the extracted and already-complete videos. Returns the lines written
    and the names left out because they contain whitespace (list files can't hold them)."""
    frames = {**summary.skipped, **summary.done}
    lines, unlisted = [], []
    for r in records:
        if not frames.get(r.clip_id):
            continue
        if any(c.isspace() for c in r.clip_id):
            unlisted.append(r.clip_id)
            continue
        lines.append(f'{r.clip_id} {frames[r.clip_id]} {r.label}\n')
    Path(path).write_text(''.join(lines), encoding='utf-8')
    return len(lines), unlisted
