"""Check a config before any work starts, so a typo costs one line instead of a traceback minutes in.

Each check raises :class:`ConfigError` whose message names the offending key and value;
tools/train.py, tools/test.py and tools/report.py print it as ``error: ...`` and exit with
status 2.
"""
from __future__ import annotations

import inspect
import os
from collections.abc import Iterator, Mapping

from mmengine.config import Config

__all__ = ['ConfigError', 'validate_config', 'check_dataset_fits_model']

# The dataloaders each kind of run builds.
_SPLITS = {'train': ('train', 'val'), 'test': ('test',), 'report': ('val', 'test')}

# The dataset keys that name files or folders which must exist.
_PATH_KEYS = ('ann_file', 'data_prefix', 'labels_file', 'class_names_file')


class ConfigError(ValueError):
    """A config value that can't work; the message is one line naming the key and value."""


def validate_config(cfg: Config, mode: str) -> None:
    """Check ``cfg`` for a ``mode`` run (``'train'``, ``'test'`` or ``'report'``: the val and
    test splits); raise :class:`ConfigError`.

    Checked: backbone names, the recognizer's sizes and focus schedule (its own
    ``check_sizes``), that ``load_from`` and every dataset path of the dataloaders the run uses exist,
    that ``model.num_classes`` matches the classes in the labels / class-names file, and that
    each dataset's clips fit the model (:func:`check_dataset_fits_model`).
    """
    if mode not in _SPLITS:
        raise ValueError(f"mode must be one of {sorted(_SPLITS)}, got {mode!r}")
    datasets = list(_used_datasets(cfg, mode))
    for key, dataset in datasets:
        _check_paths(key, dataset)
    load_from = cfg.get('load_from')
    if mode == 'train' and load_from and not cfg.get('resume') and not os.path.exists(load_from):
        raise ConfigError(f'load_from={load_from!r} does not exist')
    model = cfg.get('model') or {}
    _check_model(model)
    for key, dataset in datasets:
        _check_num_classes(model, key, dataset)
        check_dataset_fits_model(model, key, dataset)


def _used_datasets(cfg: Config, mode: str) -> Iterator[tuple[str, dict]]:
    """``(key, dataset config)`` of each dataloader the run builds; wrapped datasets are unwrapped."""
    from gfvideo.data.datasets import dataset_config

    for split in _SPLITS[mode]:
        if split == 'val' and mode == 'train' and not cfg.get('val_cfg'):
            continue
        found = dataset_config(cfg, split)
        if found is not None:
            yield found


def check_dataset_fits_model(model: Mapping, key: str, dataset: Mapping) -> None:
    """The clips of the dataset config at ``key`` fit ``model`` (a model config); else ConfigError.

    - Frames: the dataset's frames per clip (``num_segments``, the window length for dense
      sampling too) must equal ``model.num_frames``. Views (``twice_sample``, ``ThreeCrop``)
      repeat whole clips of that length, which the models average: fine.
    - Size: the frames the pipeline makes must be ``model.input_size`` square (a pipeline
      without a crop or fixed resize makes frames of the video's size: not checked here).
    A model without ``num_frames`` / ``input_size`` skips that check.
    """
    from gfvideo.data import VideoDataset, build_pipeline
    from gfvideo.registry import DATASETS

    num_frames, size = model.get('num_frames'), model.get('input_size')
    # the dataset class's own default: 8 for videos; an ImageDataset has no such key (1 frame)
    param = inspect.signature(DATASETS.get(dataset.get('type', '')) or VideoDataset).parameters.get('num_segments')
    segments = dataset.get('num_segments', 1 if param is None else param.default)
    if num_frames is not None and segments != num_frames:
        raise ConfigError(f'{key}.num_segments={segments} but model.num_frames={num_frames}: '
                          f'each clip (view) must hold the frames the model takes')
    if size is None:
        return
    try:
        hw = build_pipeline(dataset.get('pipeline') or []).output_hw()
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f'{key}.pipeline: {" ".join(str(exc).split())}') from None
    if hw is not None and tuple(hw) != (size, size):
        raise ConfigError(f'{key}.pipeline makes {hw[1]}x{hw[0]} frames but model.input_size={size} '
                          f'(the crop must be the size the model was built for)')


def _check_paths(key: str, dataset: dict) -> None:
    for name in _PATH_KEYS:
        path = dataset.get(name)
        if path and not os.path.exists(path):
            raise ConfigError(f'{key}.{name}={path!r} does not exist')


def _check_model(model: dict) -> None:
    from gfvideo.models.backbones import list_backbones

    known = list_backbones()
    for part in ('glance', 'focus', 'backbone'):
        sub = model.get(part)
        if isinstance(sub, dict) and 'backbone' in sub and sub['backbone'] not in known:
            raise ConfigError(f"model.{part}.backbone={sub['backbone']!r} is not a known backbone "
                              f"(known: {', '.join(known)})")
    if 'focus' in model and 'glance' in model:
        from gfvideo.models.recognizer import check_sizes
        from gfvideo.models.schedule import FocusSchedule

        sizes = (model.get('input_size'), model['glance'].get('size'), model['focus'].get('patch'))
        if None not in sizes and model.get('num_frames') is not None:  # a missing one fails when built
            try:
                check_sizes(*sizes)
                FocusSchedule.from_config(model['num_frames'], model.get('num_focus_frames'),
                                          model.get('frames_per_step'), model.get('num_steps'),
                                          model.get('revisit', False))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


def _check_num_classes(model: Mapping, key: str, dataset: Mapping) -> None:
    from gfvideo.data.annotations import AnnotationError, resolve_class_names

    num_classes = model.get('num_classes')
    if num_classes is None:
        return
    try:
        source, names = resolve_class_names(dataset)
    except AnnotationError as exc:
        raise ConfigError(str(exc).splitlines()[0]) from None
    if names is not None and len(names) != num_classes:
        raise ConfigError(f'model.num_classes={num_classes} but {key}.{source}={dataset[source]!r} '
                          f'has {len(names)} classes')
