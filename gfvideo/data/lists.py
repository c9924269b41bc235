"""Turning official dataset annotations into gfvideo's list files.

Every annotation row ends up either in a list file or in ``missing.txt`` with a
reason: real copies of Kinetics miss 5-10% of clips, and a silently shorter list
makes published numbers unreproducible without anyone noticing.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .annotations import (VIDEO_EXTS, VideoRecord, load_class_folders, load_kinetics400,
                          load_sthv1, load_sthv2, write_class_names)
from .decoding import DecodeError, count_frame_folder
from .images import load_images

__all__ = ['SplitSummary', 'write_lists', 'sthv1_splits', 'sthv2_splits',
           'kinetics400_splits', 'folder_splits', 'image_splits', 'format_summary']

MISSING_FILE = 'missing.txt'
CLASSES_FILE = 'classes.txt'


@dataclass
class SplitSummary:
    """What happened to one split: rows read, rows listed, rows left out (with reasons)."""

    split: str
    list_file: Path
    rows: int = 0
    listed: int = 0
    missing: list[tuple[VideoRecord, str]] = field(default_factory=list)


def _list_path(path: str, root: str | None) -> str:
    out = os.path.relpath(path, root) if root else os.path.abspath(path)
    if any(c.isspace() for c in out):
        raise ValueError(f'{out!r} contains whitespace, which space-separated list files '
                         f'cannot hold; rename the folder (e.g. spaces to "_") and rerun')
    return out


def write_lists(splits: Mapping[str, list[VideoRecord]], class_names: list[str],
                out_dir: str | os.PathLike, *, root: str | os.PathLike | None = None,
                rawframes: bool = False, progress: bool = True,
                check: Callable[[str], object] | None = None) -> list[SplitSummary]:
    """Write ``<split>.txt`` for each split, ``classes.txt`` and ``missing.txt``.

    Video lists hold ``path label``; with ``rawframes`` the records are frame folders
    and lines are ``frame_dir num_frames label`` (frames counted as ``{:05d}.jpg``).
    Paths are relative to ``root`` (the ``data_prefix`` to train with) or absolute.
    Records whose file/folder does not exist, frame folders without frames, and files
    ``check(path)`` rejects (a DecodeError: an image that does not decode) are left out of
    the lists and written to ``missing.txt`` as ``split<TAB>clip_id<TAB>reason<TAB>path``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = os.fspath(root) if root is not None else None
    summaries = []
    for split, records in splits.items():
        summary = SplitSummary(split=split, list_file=out / f'{split}.txt', rows=len(records))
        lines = []
        for rec in tqdm(records, desc=f'{split}: checking', unit='clip', disable=not progress,
                        leave=False):
            if not os.path.exists(rec.path):
                summary.missing.append((rec, 'not found'))
                continue
            if check is not None:
                try:
                    check(rec.path)
                except DecodeError as exc:
                    summary.missing.append((rec, exc.reason))
                    continue
            if rawframes:
                try:
                    num = count_frame_folder(rec.path)
                except DecodeError as exc:
                    summary.missing.append((rec, exc.reason))
                    continue
                if num == 0:
                    summary.missing.append((rec, 'no frames'))
                    continue
                lines.append(f'{_list_path(rec.path, root)} {num} {rec.label}\n')
            else:
                lines.append(f'{_list_path(rec.path, root)} {rec.label}\n')
        summary.list_file.write_text(''.join(lines), encoding='utf-8')
        summary.listed = len(lines)
        summaries.append(summary)
    write_class_names(out / CLASSES_FILE, class_names)
    with open(out / MISSING_FILE, 'w', encoding='utf-8') as f:
        for s in summaries:
            for rec, reason in s.missing:
                f.write(f'{s.split}\t{rec.clip_id}\t{reason}\t{rec.path}\n')
    return summaries


def format_summary(summaries: list[SplitSummary], out_dir: str | os.PathLike,
                   num_classes: int, note: str = '', unit: str = 'videos') -> str:
    """A few human-readable lines: per split rows / listed / missing, and where things went."""
    out = Path(out_dir)
    lines = [f'{num_classes} classes -> {out / CLASSES_FILE}' + (f' ({note})' if note else '')]
    for s in summaries:
        lines.append(f'{s.split:5s}: {s.rows} rows, {s.listed} listed -> {s.list_file}, '
                     f'{len(s.missing)} missing')
    total = sum(len(s.missing) for s in summaries)
    lines.append(f'missing {unit}: {total} (left out of the lists; see {out / MISSING_FILE})')
    return '\n'.join(lines)


# ----------------------------------------------------------------------------- per dataset

def sthv1_splits(csvs: Mapping[str, str], labels_csv: str, frames_root: str,
                 class_order: str) -> tuple[dict[str, list[VideoRecord]], list[str]]:
    """Something-Something V1: ``{split: records}`` and the class names (in index order)."""
    splits, names = {}, None
    for split, path in csvs.items():
        splits[split], names = load_sthv1(path, labels_csv, frames_root, class_order=class_order)
    return splits, names


def sthv2_splits(jsons: Mapping[str, str], labels_json: str, videos_root: str,
                 video_ext: str = '.webm') -> tuple[dict[str, list[VideoRecord]], list[str]]:
    """Something-Something V2: ``{split: records}`` and the class names (labels JSON order)."""
    splits, names = {}, None
    for split, path in jsons.items():
        splits[split], names = load_sthv2(path, labels_json, videos_root, video_ext)
    return splits, names


def kinetics400_splits(csvs: Mapping[str, str], roots: Mapping[str, str]
                       ) -> tuple[dict[str, list[VideoRecord]], list[str]]:
    """Kinetics-400: class names come from the first split (train when given, as
    ``csvs`` is ordered) and are reused for the others, so indices agree across splits."""
    splits, names = {}, None
    for split, path in csvs.items():
        splits[split], names = load_kinetics400(path, roots[split], class_names=names)
    return splits, names


def folder_splits(roots: Mapping[str, str], exts: tuple[str, ...] = VIDEO_EXTS
                  ) -> tuple[dict[str, list[VideoRecord]], list[str]]:
    """Folder per class: class names from the first split's folders, reused for the rest."""
    splits, names = {}, None
    for split, root in roots.items():
        splits[split], names = load_class_folders(root, exts, class_names=names)
    return splits, names


def image_splits(roots: Mapping[str, str], layouts: Mapping[str, str],
                 ann_files: Mapping[str, str | None], meta_file: str | None = None,
                 class_names: list[str] | None = None
                 ) -> tuple[dict[str, list[VideoRecord]], list[str]]:
    """Images in any of ``images.LAYOUTS`` per split: class names ``class_names``, else
    the first split's (train when given), reused for the rest so indices agree."""
    splits, names = {}, class_names
    for split, root in roots.items():
        splits[split], names = load_images(root, layouts[split], ann_files.get(split),
                                           meta_file, class_names=names)
        if names is None:
            raise ValueError(f'{split}: a "path label" list names no classes: give the class '
                             f'names file')
    return splits, names
