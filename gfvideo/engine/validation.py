"""Check a config before any work starts, so a typo costs one line instead of a traceback minutes in.

Each check raises :class:`ConfigError` whose message names the offending key and value;
tools/train.py and tools/test.py print it as ``error: ...`` and exit with status 2.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

from mmengine.config import Config

__all__ = ['ConfigError', 'validate_config']

# The dataset keys that name files or folders which must exist.
_PATH_KEYS = ('ann_file', 'data_prefix', 'labels_file', 'class_names_file')


class ConfigError(ValueError):
    """A config value that can't work; the message is one line naming the key and value."""


def validate_config(cfg: Config, mode: str) -> None:
    """Check ``cfg`` for a ``mode`` (``'train'`` or ``'test'``) run; raise :class:`ConfigError`.

    Checked: backbone names, the recognizer's sizes and focus schedule (its own
    ``check_sizes``), that ``load_from`` and every dataset path of the dataloaders the run uses exist,
    and that ``model.num_classes`` matches the classes in the labels / class-names file.
    """
    if mode not in ('train', 'test'):
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
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


def _used_datasets(cfg: Config, mode: str) -> Iterator[tuple[str, dict]]:
    """``(key, dataset config)`` of each dataloader the run builds; wrapped datasets are unwrapped."""
    if mode == 'train':
        splits = ['train', 'val'] if cfg.get('val_cfg') else ['train']
    else:
        splits = ['test']
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader or not loader.get('dataset'):
            continue
        key, dataset = f'{split}_dataloader.dataset', loader['dataset']
        while isinstance(dataset.get('dataset'), dict):  # e.g. RepeatDataset(dataset=...)
            key, dataset = f'{key}.dataset', dataset['dataset']
        yield key, dataset


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


def _check_num_classes(model: dict, key: str, dataset: dict) -> None:
    num_classes = model.get('num_classes')
    if num_classes is None:
        return
    source, names = _class_names(dataset)
    if names is not None and len(names) != num_classes:
        raise ConfigError(f'model.num_classes={num_classes} but {key}.{source}={dataset[source]!r} '
                          f'has {len(names)} classes')


def _class_names(dataset: dict) -> tuple[str, list[Any] | None]:
    """The dataset's class names and the key of the file they come from (class_names_file wins)."""
    from gfvideo.data.annotations import AnnotationError, _sthv2_classes, load_class_names

    try:
        if dataset.get('class_names_file'):
            return 'class_names_file', load_class_names(dataset['class_names_file'])
        if dataset.get('ann_format') == 'sthv2' and dataset.get('labels_file'):
            return 'labels_file', _sthv2_classes(dataset['labels_file'])[1]
    except AnnotationError as exc:
        raise ConfigError(str(exc).splitlines()[0]) from None
    return '', None
