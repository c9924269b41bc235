"""Annotation records: mmaction2-style list files, Something-Something V2 JSON, class names."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePath

__all__ = ['VideoRecord', 'AnnotationError', 'load_list_file', 'load_sthv2',
           'load_class_names', 'write_class_names']


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


def write_class_names(path: str | os.PathLike, names: list[str]) -> None:
    """Write class names one per line, in index order."""
    for name in names:
        if '\n' in name or not name.strip():
            raise ValueError(f'class name {name!r} cannot be written one per line')
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(''.join(f'{name}\n' for name in names), encoding='utf-8')
