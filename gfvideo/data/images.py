"""Image datasets read as 1-frame clips: ImageNet's layouts, class folders, list files (``ImageDataset``).

An image is a clip of one frame. ``ImageDataset`` is a ``VideoDataset`` whose records are
image files, so its samples are the same dict (``inputs`` uint8 ``[1, 3, H, W]``, label,
clip_id = the file's path relative to the layout's root, index, ``frame_inds=[0]``,
``replaced``, ``num_views=1``) and ``collate_clips``, the models, the replaced-clip hook and
the report take images unchanged. A file that does not decode (missing, empty, not an image,
corrupt, truncated) is replaced by the next one and counted exactly as an undecodable video.

Layouts (``layout=``; see docs/references.md for their public sources):

- ``'folders'``: ``<data_prefix>/<class>/<image>``: ImageNet's train split (a folder per
  WordNet id, ``n01440764/n01440764_10026.JPEG``), a val split sorted into class folders, or
  any dataset with a folder per class. Class index: sorted folder names.
- ``'loc_csv'``: flat ``ILSVRC2012_val_<8 digits>.JPEG`` with Kaggle's ``LOC_val_solution.csv``
  (``ImageId,PredictionString``; the first token of the string is the wnid).
- ``'devkit'``: flat val images with the devkit's ``ILSVRC2012_validation_ground_truth.txt``
  (one 1-based ILSVRC2012 id per line, line k for image k), turned into wnids by
  ``meta_file``: the devkit's ``meta.mat`` (needs scipy, not a gfvideo dependency) or a text
  file of ``<ILSVRC2012_ID> <wnid>`` lines (how to write it: :func:`load_ilsvrc_ids`).
- ``'list'``: ``path label`` lines, paths joined to ``data_prefix`` (``build_lists.py``'s output).
- ``'auto'``: ``'folders'`` without ``ann_file``; else from the file's first line: the LOC
  header, a single integer (devkit) or ``path label``.

Class names come from ``class_names_file`` when given (the train split's ``classes.txt``, so
a partial val split keeps the train indices), else the layout's sorted wnids / folder names.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from gfvideo.registry import DATASETS

from .annotations import (AnnotationError, VideoRecord, load_class_folders, load_list_file,
                          resolve_class_names)
from .datasets import VideoDataset
from .readers import read_image

__all__ = ['ImageDataset', 'IMAGE_EXTS', 'LAYOUTS', 'detect_layout', 'load_images',
           'load_image_folders', 'load_loc_csv', 'load_devkit_val', 'load_ilsvrc_ids',
           'load_image_list']

IMAGE_EXTS = tuple(IMG_EXTENSIONS)
LAYOUTS = ('auto', 'folders', 'loc_csv', 'devkit', 'list')
_LOC_HEADER = ['ImageId', 'PredictionString']


def _read_lines(path: str) -> list[str]:
    try:  # utf-8-sig: a byte-order mark from spreadsheet tools is dropped
        with open(path, encoding='utf-8-sig') as f:
            return f.read().splitlines()
    except OSError as exc:
        raise AnnotationError(f'{path}: cannot read annotation file ({exc})') from exc


def _index(names: Sequence[str] | None, found: set[str]) -> tuple[list[str], dict[str, int]]:
    """The class list (``names``, else the sorted ``found``) and its name -> index map."""
    names = list(names) if names is not None else sorted(found)
    return names, {n: i for i, n in enumerate(names)}


def _flat_images(image_dir: str) -> dict[str, str]:
    """Image files directly in ``image_dir`` by stem (``ILSVRC2012_val_00000001`` -> its name)."""
    try:
        entries = list(os.scandir(image_dir))
    except OSError as exc:
        raise AnnotationError(f'{image_dir}: cannot list the image folder ({exc})') from exc
    return {os.path.splitext(e.name)[0]: e.name for e in entries
            if not e.name.startswith('.') and has_file_allowed_extension(e.name, IMAGE_EXTS)}


def _flat_record(image_dir: str, files: dict[str, str], stem: str, label: int) -> VideoRecord:
    """A flat-folder image; one not on disk points at ``<stem>.JPEG`` (reported as missing)."""
    name = files.get(stem, stem + '.JPEG')
    return VideoRecord(path=os.path.join(image_dir, name), label=label, clip_id=name)


def load_image_folders(root: str | os.PathLike, class_names: Sequence[str] | None = None
                       ) -> tuple[list[VideoRecord], list[str]]:
    """``root/<class>/<image>`` (torchvision's image extensions, hidden files skipped):
    records with ``clip_id = <class>/<file>`` and the class names (sorted folder names,
    or ``class_names``; a folder not among them raises AnnotationError)."""
    root = os.fspath(root)
    names = list(class_names) if class_names is not None else None
    records, names = load_class_folders(root, IMAGE_EXTS, class_names=names)
    return [replace(r, clip_id=os.path.relpath(r.path, root)) for r in records], names


def load_loc_csv(csv_file: str | os.PathLike, image_dir: str | os.PathLike,
                 class_names: Sequence[str] | None = None) -> tuple[list[VideoRecord], list[str]]:
    """Kaggle's ``LOC_val_solution.csv`` (``ImageId,PredictionString``, the wnid first in the
    string, then boxes) for the flat images in ``image_dir``; records sorted by ImageId.

    Class names: ``class_names``, else the sorted wnids of the file. A bad line (field
    count, empty or repeated ImageId, empty string, unknown wnid) raises AnnotationError
    naming ``file:line``.
    """
    csv_file, image_dir = os.fspath(csv_file), os.fspath(image_dir)
    lines = _read_lines(csv_file)
    rows = list(csv.reader(lines))
    if not rows or [h.strip() for h in rows[0]] != _LOC_HEADER:
        raise AnnotationError(f'{csv_file}:1: expected the header "ImageId,PredictionString": '
                              f'{lines[0] if lines else ""!r}')
    parsed: dict[str, tuple[int, str]] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not ''.join(row).strip():
            continue
        bad = f'{csv_file}:{lineno}: {{}}: {lines[lineno - 1]!r}'
        if len(row) != 2:
            raise AnnotationError(bad.format(f'expected 2 fields, got {len(row)}'))
        image_id, tokens = row[0].strip(), row[1].split()
        if not image_id or not tokens:
            raise AnnotationError(bad.format('empty ImageId or PredictionString'))
        if image_id in parsed:
            raise AnnotationError(bad.format(f'{image_id} repeats line {parsed[image_id][0]}'))
        parsed[image_id] = (lineno, tokens[0])
    names, index = _index(class_names, {wnid for _, wnid in parsed.values()})
    files = _flat_images(image_dir)
    records = []
    for image_id in sorted(parsed):
        lineno, wnid = parsed[image_id]
        if wnid not in index:
            raise AnnotationError(f'{csv_file}:{lineno}: wnid {wnid!r} is not in the class names')
        records.append(_flat_record(image_dir, files, image_id, index[wnid]))
    return records, names


def load_ilsvrc_ids(meta_file: str | os.PathLike) -> dict[int, str]:
    """ILSVRC2012 id (1..1000) -> wnid, from the devkit's ``meta.mat`` or a text file.

    ``meta.mat`` is read with ``scipy.io.loadmat`` when scipy is installed (the leaf
    synsets, ``num_children == 0``, as torchvision's ImageNet reads it). Without scipy,
    give a text file of ``<id> <wnid>`` lines, written once where scipy is available::

        python -c "import scipy.io as s; m = s.loadmat('meta.mat', squeeze_me=True)['synsets'];
        print(''.join(f'{r[0]} {r[1]}\\n' for r in m if r[4] == 0), end='')" > ilsvrc2012_ids.txt

    Bad lines raise AnnotationError naming ``file:line``.
    """
    meta_file = os.fspath(meta_file)
    if meta_file.endswith('.mat'):
        try:
            import scipy.io
        except ImportError:
            raise AnnotationError(f'{meta_file}: reading meta.mat needs scipy; install it or give '
                                  f'a text file of "<ILSVRC2012_ID> <wnid>" lines (see '
                                  f'gfvideo.data.images.load_ilsvrc_ids)') from None
        synsets = scipy.io.loadmat(meta_file, squeeze_me=True)['synsets']
        return {int(s[0]): str(s[1]) for s in synsets if int(s[4]) == 0}
    ids: dict[int, str] = {}
    for lineno, raw in enumerate(_read_lines(meta_file), start=1):
        parts = raw.split()
        if not parts or raw.lstrip().startswith('#'):
            continue
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) in ids:
            raise AnnotationError(f'{meta_file}:{lineno}: expected "<ILSVRC2012_ID> <wnid>" with a '
                                  f'new id: {raw!r}')
        ids[int(parts[0])] = parts[1]
    if not ids:
        raise AnnotationError(f'{meta_file}: no ids')
    return ids


def load_devkit_val(gt_file: str | os.PathLike, meta_file: str | os.PathLike,
                    image_dir: str | os.PathLike, class_names: Sequence[str] | None = None
                    ) -> tuple[list[VideoRecord], list[str]]:
    """The devkit's ``ILSVRC2012_validation_ground_truth.txt`` (line k: the ILSVRC2012 id of
    ``ILSVRC2012_val_<k:08d>``) for the flat images in ``image_dir``, ids mapped to wnids
    by ``meta_file`` (:func:`load_ilsvrc_ids`).

    Class names: ``class_names``, else the sorted wnids of ``meta_file`` (all 1000, ImageNet's
    usual order). A line that is not a known id (a blank line too: it would shift every later
    image) raises AnnotationError naming ``file:line``.
    """
    gt_file, image_dir = os.fspath(gt_file), os.fspath(image_dir)
    ids = load_ilsvrc_ids(meta_file)
    names, index = _index(class_names, set(ids.values()))
    lines = _read_lines(gt_file)
    while lines and not lines[-1].strip():
        lines.pop()
    files = _flat_images(image_dir)
    records = []
    for k, raw in enumerate(lines, start=1):
        value = raw.strip()
        wnid = ids.get(int(value)) if value.isdigit() else None
        if wnid is None:
            raise AnnotationError(f'{gt_file}:{k}: expected an ILSVRC2012 id of {meta_file}: {raw!r}')
        if wnid not in index:
            raise AnnotationError(f'{gt_file}:{k}: wnid {wnid!r} is not in the class names')
        records.append(_flat_record(image_dir, files, f'ILSVRC2012_val_{k:08d}', index[wnid]))
    return records, names


def load_image_list(list_file: str | os.PathLike, data_prefix: str = '') -> list[VideoRecord]:
    """A ``path label`` list (``load_list_file``), ``clip_id`` = the path as written."""
    records = load_list_file(list_file, data_prefix)
    if any(r.num_frames is not None for r in records):
        raise AnnotationError(f'{os.fspath(list_file)}: a rawframe list (frame_dir num_frames '
                              f'label); expected an image list (path label)')
    return [replace(r, clip_id=os.path.relpath(r.path, data_prefix) if data_prefix
                    else os.path.normpath(r.path)) for r in records]


def detect_layout(data_prefix: str | os.PathLike, ann_file: str | os.PathLike | None) -> str:
    """``'folders'`` without an annotation file; else ``'loc_csv'``, ``'devkit'`` or ``'list'``
    from its first line (the LOC header, a single integer, or ``path label``)."""
    if ann_file is None:
        if os.path.isdir(data_prefix) and not any(
                e.is_dir() and not e.name.startswith('.') for e in os.scandir(data_prefix)):
            raise AnnotationError(f'{os.fspath(data_prefix)}: no class folders; flat ImageNet val '
                                  f'images need ann_file (LOC_val_solution.csv or '
                                  f'ILSVRC2012_validation_ground_truth.txt)')
        return 'folders'
    ann_file = os.fspath(ann_file)
    first = next((ln for ln in _read_lines(ann_file) if ln.strip() and not ln.startswith('#')), '')
    if [h.strip() for h in first.split(',')] == _LOC_HEADER:
        return 'loc_csv'
    if first.strip().isdigit():
        return 'devkit'
    if len(first.split()) == 2:
        return 'list'
    raise AnnotationError(f'{ann_file}:1: not a LOC csv, devkit ground truth or "path label" list; '
                          f'give layout=: {first!r}')


def load_images(data_prefix: str | os.PathLike, layout: str = 'auto',
                ann_file: str | os.PathLike | None = None, meta_file: str | os.PathLike | None = None,
                class_names: Sequence[str] | None = None
                ) -> tuple[list[VideoRecord], list[str] | None]:
    """Records and class names of one split in any of ``LAYOUTS`` (see the module docstring).
    The names are None for a list without ``class_names`` (the dataset numbers its labels)."""
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    data_prefix = os.fspath(data_prefix)
    if layout == 'auto':
        layout = detect_layout(data_prefix, ann_file)
    if layout == 'folders':
        return load_image_folders(data_prefix, class_names)
    if ann_file is None:
        raise ValueError(f"layout={layout!r} needs ann_file")
    if layout == 'list':
        return load_image_list(ann_file, data_prefix), list(class_names) if class_names else None
    if layout == 'loc_csv':
        return load_loc_csv(ann_file, data_prefix, class_names)
    if meta_file is None:
        raise ValueError("layout='devkit' needs meta_file (meta.mat or an '<id> <wnid>' text file)")
    return load_devkit_val(ann_file, meta_file, data_prefix, class_names)


@DATASETS.register_module()
class ImageDataset(VideoDataset):
    """Images as 1-frame clips, in ``VideoDataset``'s sample format (see the module docstring).

    Everything but reading is ``VideoDataset``'s: the sample RNG ``clip_rng(seed, epoch,
    index)`` (train with ``EpochSampler``), replacing an undecodable file by the next one
    (``skipped``, ``replaced``), the pipeline ending in ``FormatShape``. Images are decoded
    with PIL (``convert('RGB')``).

    Args:
        data_prefix: the split's folder: class folders, the flat val images, or the folder
            list paths are relative to.
        pipeline: transform configs or callables (``RandomResizedCrop``, ``Flip``,
            ``ResizeCenterCrop``, ...), ending with ``FormatShape`` (added if missing).
        layout: one of ``LAYOUTS``.
        ann_file: LOC csv, devkit ground truth or ``path label`` list.
        meta_file: the devkit's ``meta.mat`` or an ``<id> <wnid>`` text file (``'devkit'``).
        class_names_file: class names, one per line, in index order.
        test_mode, seed, max_retries: as ``VideoDataset``'s.
        records: the images themselves instead of a layout (labels index ``class_names_file``).
    """

    def __init__(self, data_prefix: str | os.PathLike | None = None,
                 pipeline: Sequence[dict | Callable] = (), layout: str = 'auto',
                 ann_file: str | os.PathLike | None = None, meta_file: str | os.PathLike | None = None,
                 class_names_file: str | None = None, test_mode: bool = False, seed: int = 0,
                 max_retries: int = 10, records: Sequence[VideoRecord] | None = None) -> None:
        if (data_prefix is None) == (records is None):
            raise ValueError('give exactly one of data_prefix and records')
        _, names = resolve_class_names(dict(class_names_file=class_names_file))
        if records is None:
            records, names = load_images(data_prefix, layout, ann_file, meta_file, names)
            if not records:
                raise AnnotationError(f'{os.fspath(ann_file or data_prefix)}: no images')
        super().__init__(None, pipeline, num_segments=1, test_mode=test_mode, seed=seed,
                         max_retries=max_retries, records=records, class_names=names)
        self.ann_file = os.fspath(ann_file or data_prefix or '<records>')

    @classmethod
    def for_path(cls, dataset_cfg: Mapping, path: str | os.PathLike, label: int = -1) -> ImageDataset:
        """A test-mode dataset of the one image ``path``, with ``dataset_cfg``'s pipeline,
        seed and retries (its layout and annotation files are not read)."""
        kwargs = {k: dataset_cfg[k] for k in ('pipeline', 'seed', 'max_retries') if k in dataset_cfg}
        record = VideoRecord(path=os.fspath(path), label=label, clip_id=Path(path).name)
        return cls(records=[record], test_mode=True, **kwargs)

    def _read(self, record: VideoRecord, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        """The image as a 1-frame clip ``[1, H, W, 3]``, frame index 0, 1 frame."""
        return read_image(record.path)[None], np.zeros(1, dtype=np.int64), 1
