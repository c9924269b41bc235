"""Annotation records: mmaction2-style list files, Something-Something V2 JSON, class names."""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

__all__ = ['VideoRecord', 'AnnotationError', 'load_list_file', 'load_sthv2', 'load_sthv1',
           'load_kinetics400', 'kinetics_clip_path', 'load_class_folders', 'find_missing',
           'load_class_names', 'write_class_names', 'resolve_class_names', 'VIDEO_EXTS']

VIDEO_EXTS = ('.mp4', '.webm', '.avi', '.mkv')


@dataclass(frozen=True)
class VideoRecord:
    """One clip: a video file (or frame folder), its class and its id.

    ``num_frames`` is known for rawframe lists; ``None`` means "probe the file".
    ``label`` is -1 for unlabelled (test) clips.
    """

    path: str
    label: int
    clip_id: str
    num_frames: int | None = None


class AnnotationError(ValueError):
    """A malformed annotation: the message names the file, the 1-based line (or JSON
    entry) and the offending text."""


def _join(prefix: str, path: str) -> str:
    return os.path.join(prefix, path) if prefix else path


def load_list_file(list_file: str | os.PathLike, data_prefix: str = '') -> list[VideoRecord]:
    """Parse a space-separated list: ``path label`` (videos) or
    ``frame_dir total_frames label`` (rawframes).

    Blank lines and lines starting with ``#`` are skipped; paths are joined to
    ``data_prefix``; ``clip_id`` is the path's stem. Paths may not contain spaces.
    Raises AnnotationError naming ``file:line`` on any malformed line.
    """
    list_file = os.fspath(list_file)
    records = []
    try:
        with open(list_file, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise AnnotationError(f'{list_file}: cannot read annotation file ({exc})') from exc
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split()

        def bad(reason: str) -> AnnotationError:
            return AnnotationError(f'{list_file}:{lineno}: {reason}: {raw!r}')

        if len(parts) not in (2, 3):
            raise bad(f'expected "path label" or "frame_dir total_frames label", '
                      f'got {len(parts)} fields')
        try:
            label = int(parts[-1])
        except ValueError:
            raise bad(f'label {parts[-1]!r} is not an integer') from None
        num_frames = None
        if len(parts) == 3:
            try:
                num_frames = int(parts[1])
            except ValueError:
                raise bad(f'total_frames {parts[1]!r} is not an integer') from None
            if num_frames < 1:
                raise bad(f'total_frames must be >= 1, got {num_frames}')
        records.append(VideoRecord(path=_join(data_prefix, parts[0]), label=label,
                                   clip_id=PurePath(parts[0]).stem, num_frames=num_frames))
    return records


def _load_json(path: str) -> object:
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except OSError as exc:
        raise AnnotationError(f'{path}: cannot read annotation file ({exc})') from exc
    except json.JSONDecodeError as exc:
        raise AnnotationError(f'{path}:{exc.lineno}: invalid JSON ({exc.msg})') from exc


def _sthv2_classes(labels_json: str) -> tuple[dict[str, int], list[str]]:
    labels = _load_json(labels_json)
    if not isinstance(labels, dict) or not labels:
        raise AnnotationError(f'{labels_json}: expected a non-empty object '
                              f'{{"class name": "index", ...}}')
    name_to_index = {}
    for name, value in labels.items():
        try:
            name_to_index[name] = int(value)
        except (TypeError, ValueError):
            raise AnnotationError(f'{labels_json}: class {name!r} has index {value!r}, '
                                  f'not an integer') from None
    if sorted(name_to_index.values()) != list(range(len(name_to_index))):
        raise AnnotationError(f'{labels_json}: class indices are not 0..{len(name_to_index) - 1}, '
                              f'each once')
    names = sorted(name_to_index, key=name_to_index.__getitem__)
    return name_to_index, names


def load_sthv2(annotation_json: str | os.PathLike, labels_json: str | os.PathLike,
               video_dir: str | os.PathLike,
               video_ext: str = '.webm') -> tuple[list[VideoRecord], list[str]]:
    """Read Something-Something V2 annotations (train / validation / test JSON).

    Class index = ``int(labels[template without '[' and ']'])``; test entries have no
    template and get label -1. Video path = ``video_dir/<id><video_ext>``. Returns
    the records and the class names ordered by index. Errors name the file and the
    1-based entry number.
    """
    annotation_json, labels_json = os.fspath(annotation_json), os.fspath(labels_json)
    name_to_index, names = _sthv2_classes(labels_json)
    entries = _load_json(annotation_json)
    if not isinstance(entries, list):
        raise AnnotationError(f'{annotation_json}: expected a JSON list of clips')
    records = []
    for n, entry in enumerate(entries, start=1):
        where = f'{annotation_json}: entry {n}'
        if not isinstance(entry, dict) or 'id' not in entry:
            raise AnnotationError(f'{where}: no "id": {entry!r}')
        clip_id = str(entry['id'])
        label = -1
        if 'template' in entry:
            name = str(entry['template']).replace('[', '').replace(']', '')
            if name not in name_to_index:
                raise AnnotationError(f'{where}: template {entry["template"]!r} is not a class '
                                      f'of {labels_json}: {entry!r}')
            label = name_to_index[name]
        path = os.path.join(os.fspath(video_dir), clip_id + video_ext)
        records.append(VideoRecord(path=path, label=label, clip_id=clip_id))
    return records, names


def load_class_names(path: str | os.PathLike) -> list[str]:
    """Class names, one per line, in index order (blank lines skipped)."""
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def resolve_class_names(dataset_cfg: Mapping) -> tuple[str | None, list[str] | None]:
    """The class names a dataset config points at, and the key of the file they come from.

    The one rule for where a dataset's class names live (``VideoDataset``, config
    validation and inference all use it): ``class_names_file`` (one name per line) wins;
    else, for ``ann_format='sthv2'``, the names of ``labels_file`` in index order;
    ``(None, None)`` when the config names neither (the dataset then numbers its labels).
    Raises AnnotationError when the file can't be read or parsed.
    """
    names_file = dataset_cfg.get('class_names_file')
    if names_file:
        try:
            return 'class_names_file', load_class_names(names_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise AnnotationError(f'{names_file}: cannot read class names ({exc})') from exc
    labels_file = dataset_cfg.get('labels_file')
    if dataset_cfg.get('ann_format') == 'sthv2' and labels_file:
        return 'labels_file', _sthv2_classes(os.fspath(labels_file))[1]
    return None, None


def write_class_names(path: str | os.PathLike, names: list[str]) -> None:
    """Write class names one per line, in index order."""
    for name in names:
        if '\n' in name or not name.strip():
            raise ValueError(f'class name {name!r} cannot be written one per line')
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(''.join(f'{name}\n' for name in names), encoding='utf-8')


# ----------------------------------------------------------------------------- sthv1

def _read_lines(path: str) -> list[str]:
    try:  # utf-8-sig: files saved by spreadsheet tools start with a byte-order mark
        with open(path, encoding='utf-8-sig') as f:
            return f.read().splitlines()
    except OSError as exc:
        raise AnnotationError(f'{path}: cannot read annotation file ({exc})') from exc


def _sthv1_classes(labels_csv: str, class_order: str) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(_read_lines(labels_csv), start=1):
        name = raw.strip()
        if not name:
            continue
        if name in seen:
            raise AnnotationError(f'{labels_csv}:{lineno}: class {name!r} repeats line '
                                  f'{seen[name]}')
        seen[name] = lineno
        names.append(name)
    if not names:
        raise AnnotationError(f'{labels_csv}: no class names')
    return sorted(names) if class_order == 'alphabetical' else names


def load_sthv1(annotation_csv: str | os.PathLike, labels_csv: str | os.PathLike,
               frames_root: str | os.PathLike,
               class_order: str) -> tuple[list[VideoRecord], list[str]]:
    """Read Something-Something V1 annotations (``id;label`` lines; test CSVs: ids only).

    ``class_order`` has no default because the two public conventions disagree:
    ``'file'`` keeps the label CSV's line order (mmaction2), ``'alphabetical'`` sorts the
    names (TSM-official). The returned class list is in index order, so writing it out
    records the choice. Records point at ``frames_root/<id>`` with ``num_frames=None``
    (frames are counted later); test lines get label -1. Unparseable lines and unknown
    classes raise AnnotationError naming ``file:line``.
    """
    if class_order not in ('file', 'alphabetical'):
        raise ValueError(f"class_order must be 'file' or 'alphabetical', got {class_order!r}")
    annotation_csv, labels_csv = os.fspath(annotation_csv), os.fspath(labels_csv)
    names = _sthv1_classes(labels_csv, class_order)
    index = {name: i for i, name in enumerate(names)}
    records = []
    for lineno, raw in enumerate(_read_lines(annotation_csv), start=1):
        line = raw.strip()
        if not line:
            continue
        clip_id, sep, name = (part.strip() for part in line.partition(';'))
        if not clip_id or any(c.isspace() or c in '/\\' for c in clip_id) or (sep and not name):
            raise AnnotationError(f'{annotation_csv}:{lineno}: expected "id;label": {raw!r}')
        label = -1
        if sep:
            if name not in index:
                raise AnnotationError(f'{annotation_csv}:{lineno}: class {name!r} is not in '
                                      f'{labels_csv}: {raw!r}')
            label = index[name]
        records.append(VideoRecord(path=os.path.join(os.fspath(frames_root), clip_id),
                                   label=label, clip_id=clip_id))
    return records, names


# ----------------------------------------------------------------------------- Kinetics-400

_K400_COLUMNS = ('youtube_id', 'time_start', 'time_end')


def _k400_time(value: str) -> int:
    number = float(value)
    if not number.is_integer() or number < 0:
        raise ValueError(value)
    return int(number)


def kinetics_clip_path(videos_root: str | os.PathLike, label: str, youtube_id: str,
                       start: int, end: int) -> str:
    """``videos_root/<label, spaces as _>/<ytid>_<start:06d>_<end:06d>.mp4``; the folder
    spelled with spaces is used instead when only that one exists."""
    name = f'{youtube_id}_{start:06d}_{end:06d}.mp4'
    root = os.fspath(videos_root)
    path = os.path.join(root, label.replace(' ', '_'), name)
    if ' ' in label and not os.path.exists(path):
        spaced = os.path.join(root, label, name)
        if os.path.exists(spaced):
            return spaced
    return path


def load_kinetics400(annotation_csv: str | os.PathLike, videos_root: str | os.PathLike,
                     class_names: list[str] | None = None) -> tuple[list[VideoRecord], list[str]]:
    """Read a Kinetics-400 CSV (``label,youtube_id,time_start,time_end,split[,is_cc]``).

    Class index = position in ``class_names``; by default the sorted labels of this
    CSV (mmaction2 and torchvision's order). Pass the training split's classes when
    reading validation. A CSV without a ``label`` column (test split) gives label -1.
    Clip paths follow ``kinetics_clip_path``; ``clip_id`` is ``<ytid>_<start>_<end>``.
    Errors name ``file:line``.
    """
    annotation_csv = os.fspath(annotation_csv)
    try:
        with open(annotation_csv, encoding='utf-8-sig', newline='') as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise AnnotationError(f'{annotation_csv}: cannot read annotation file ({exc})') from exc
    except csv.Error as exc:
        raise AnnotationError(f'{annotation_csv}: invalid CSV ({exc})') from exc
    if not rows:
        raise AnnotationError(f'{annotation_csv}: empty file')
    header = [h.strip() for h in rows[0]]
    missing = [c for c in _K400_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(f'{annotation_csv}:1: header lacks {missing}: '
                              f'{",".join(rows[0])!r}')
    col = {name: header.index(name) for name in header}
    has_label = 'label' in col
    parsed = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not ''.join(row).strip():
            continue
        where = f'{annotation_csv}:{lineno}'
        if len(row) != len(header):
            raise AnnotationError(f'{where}: expected {len(header)} fields, got {len(row)}: '
                                  f'{",".join(row)!r}')
        try:
            start, end = _k400_time(row[col['time_start']]), _k400_time(row[col['time_end']])
        except ValueError:
            raise AnnotationError(f'{where}: time_start/time_end are not whole seconds: '
                                  f'{",".join(row)!r}') from None
        ytid = row[col['youtube_id']].strip()
        label = row[col['label']].strip() if has_label else ''
        if not ytid or (has_label and not label):
            raise AnnotationError(f'{where}: empty youtube_id or label: {",".join(row)!r}')
        parsed.append((lineno, label, ytid, start, end))
    names = list(class_names) if class_names is not None else sorted({p[1] for p in parsed if p[1]})
    index = {name: i for i, name in enumerate(names)}
    records = []
    for lineno, label, ytid, start, end in parsed:
        if has_label and label not in index:
            raise AnnotationError(f'{annotation_csv}:{lineno}: class {label!r} is not in the '
                                  f'given class names')
        clip_id = f'{ytid}_{start:06d}_{end:06d}'
        path = kinetics_clip_path(videos_root, label, ytid, start, end) if has_label else \
            os.path.join(os.fspath(videos_root), clip_id + '.mp4')
        records.append(VideoRecord(path=path, label=index[label] if has_label else -1,
                                   clip_id=clip_id))
    return records, names


# ----------------------------------------------------------------------------- folders, checks

def load_class_folders(root: str | os.PathLike, exts: tuple[str, ...] = VIDEO_EXTS,
                       class_names: list[str] | None = None) -> tuple[list[VideoRecord], list[str]]:
    """Videos laid out as ``root/<class>/<video>``: class index = sorted folder names
    (or position in ``class_names``, e.g. the training split's, for a validation root).

    Files whose extension (case-insensitive) is not in ``exts`` and hidden entries are
    ignored. A folder not in the given ``class_names`` raises AnnotationError.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise AnnotationError(f'{root}: not a folder')
    folders = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith('.'))
    names = list(class_names) if class_names is not None else folders
    index = {name: i for i, name in enumerate(names)}
    exts = tuple(e.lower() for e in exts)
    records = []
    for folder in folders:
        if folder not in index:
            raise AnnotationError(f'{os.path.join(root, folder)}: class folder is not in the '
                                  f'given class names')
        for entry in sorted(os.scandir(os.path.join(root, folder)), key=lambda e: e.name):
            if entry.name.startswith('.') or not entry.name.lower().endswith(exts):
                continue
            records.append(VideoRecord(path=entry.path, label=index[folder],
                                       clip_id=os.path.splitext(entry.name)[0]))
    return records, names


def find_missing(records: list[VideoRecord]) -> list[VideoRecord]:
    """The records whose video file or frame folder does not exist (in input order)."""
    return [r for r in records if not os.path.exists(r.path)]
