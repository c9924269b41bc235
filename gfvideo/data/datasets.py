"""The clip dataset (the one place a record becomes model inputs) and its collate function."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.logging import print_log
from torch.utils.data import Dataset, get_worker_info

from gfvideo.registry import DATASETS, FUNCTIONS

from .annotations import AnnotationError, VideoRecord, load_list_file, load_sthv2, resolve_class_names
from .decoding import ClipSource, DecodeError
from .sampling import clip_rng, dense_indices, segment_indices
from .transforms import FormatShape, build_pipeline

__all__ = ['VideoDataset', 'collate_clips', 'dataset_config', 'SOURCE_KEYS']

# Dataset-config keys that say where the clips and their class names come from, not how a
# clip is loaded (``VideoDataset.for_path`` leaves them out).
SOURCE_KEYS = ('type', 'ann_file', 'ann_format', 'data_prefix', 'labels_file', 'class_names_file')


def dataset_config(cfg: Mapping, split: str) -> tuple[str, dict] | None:
    """``{split}_dataloader``'s dataset config with wrappers (``dataset=dict(...)``, e.g.
    ``RepeatDataset``) removed, and its key (``'test_dataloader.dataset'``); None if the
    config has no such dataloader."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        return None
    key, dataset = f'{split}_dataloader.dataset', loader['dataset']
    while isinstance(dataset.get('dataset'), Mapping):
        key, dataset = f'{key}.dataset', dataset['dataset']
    return key, dataset


@DATASETS.register_module()
class VideoDataset(Dataset):
    """Clips from videos (or JPEG frame folders) listed in an annotation file.

    A key is an index or an ``(epoch, index)`` pair (as ``EpochSampler`` yields; a
    bare index means epoch 0). All randomness of a sample, frame choice and
    augmentation alike, comes from ``clip_rng(seed, epoch, index)``; so training
    needs ``EpochSampler``: with a sampler yielding bare indices every epoch would
    repeat epoch 0's frames and crops (a warning says so once).

    A clip that fails to decode is replaced by the next one, ``(index + k) % len``
    for ``k = 1..max_retries``; the failure is logged once per file (per process),
    kept in ``self.skipped`` (path -> reason; per worker process) and listed in the
    sample's ``replaced`` so the main process can count it.

    Args:
        ann_file: list file (``ann_format='list'``) or Something-Something V2 JSON; None
            when ``records`` are given.
        pipeline: transform configs or callables, ending with ``FormatShape``
            (added automatically if missing).
        data_prefix: joined to list paths; the video folder for sthv2.
        num_segments: frames per clip (per clip of a twice-sampled test clip).
        sampling: ``'segments'`` (TSN) or ``'dense'``.
        test_mode: deterministic sampling (segment centres / centred window).
        twice_sample: in test mode, add a second clip at the segment starts (a second view).
        seed: data seed for ``clip_rng``.
        ann_format: ``'list'`` or ``'sthv2'``.
        labels_file: the sthv2 labels JSON.
        class_names_file: class names, one per line, in index order.
        max_retries: replacement attempts for undecodable clips.
        dense_interval: frame stride of dense sampling (default ``64 // num_segments``).
        backend: video backend, ``'auto'``, ``'decord'`` or ``'pyav'``.
        filename_tmpl, frame_start: JPEG names in frame folders (1-based ``00001.jpg``).
        records: the clips themselves instead of an annotation file.
        class_names: the class names in index order, for ``records`` whose loader found
            them (``ImageDataset``'s layouts); they take the place of the files above.
    """

    def __init__(self, ann_file: str | None, pipeline: Sequence[dict | Callable], data_prefix: str = '',
                 num_segments: int = 8, sampling: str = 'segments', test_mode: bool = False,
                 twice_sample: bool = False, seed: int = 0, ann_format: str = 'list',
                 labels_file: str | None = None, class_names_file: str | None = None,
                 max_retries: int = 10, dense_interval: int | None = None, backend: str = 'auto',
                 filename_tmpl: str = '{:05d}.jpg', frame_start: int = 1,
                 records: Sequence[VideoRecord] | None = None,
                 class_names: Sequence[str] | None = None) -> None:
        if sampling not in ('segments', 'dense'):
            raise ValueError(f"sampling must be 'segments' or 'dense', got {sampling!r}")
        if twice_sample and (not test_mode or sampling != 'segments'):
            raise ValueError('twice_sample needs test_mode=True and segment sampling')
        if num_segments < 1 or max_retries < 0:
            raise ValueError('num_segments must be >= 1 and max_retries >= 0')
        if (ann_file is None) == (records is None):
            raise ValueError('give exactly one of ann_file and records')
        self.ann_file = os.fspath(ann_file) if ann_file is not None else '<records>'
        self.num_segments = num_segments
        self.sampling = sampling
        self.test_mode = test_mode
        self.twice_sample = twice_sample
        self.seed = int(seed)
        self.max_retries = max_retries
        self.dense_interval = dense_interval or max(1, 64 // num_segments)
        self.backend = backend
        self.filename_tmpl = filename_tmpl
        self.frame_start = frame_start
        self.pipeline = build_pipeline(pipeline)
        self._format = FormatShape()

        if records is not None:
            self.records = list(records)
        elif ann_format == 'list':
            self.records = load_list_file(self.ann_file, data_prefix)
        elif ann_format == 'sthv2':
            if labels_file is None:
                raise ValueError("ann_format='sthv2' needs labels_file (the labels JSON)")
            self.records, _ = load_sthv2(self.ann_file, labels_file, data_prefix)
        else:
            raise ValueError(f"ann_format must be 'list' or 'sthv2', got {ann_format!r}")
        if not self.records:
            raise AnnotationError(f'{self.ann_file}: no clips')
        names = class_names
        if names is None:
            _, names = resolve_class_names(dict(ann_format=ann_format, labels_file=labels_file,
                                                class_names_file=class_names_file))
        top = max(r.label for r in self.records)
        if names is None:
            names = [str(i) for i in range(top + 1)]
        elif top >= len(names):
            raise AnnotationError(f'{self.ann_file}: label {top} but only {len(names)} classes')
        self.metainfo = dict(classes=list(names))
        for t in getattr(self.pipeline, 'transforms', ()):
            if hasattr(t, 'bind_classes'):
                t.bind_classes(self.metainfo['classes'])
        self.skipped: dict[str, str] = {}
        self._warned: set[str] = set()
        self._warned_epochless = False

    def __len__(self) -> int:
        return len(self.records)

    def _key(self, key: int | tuple[int, int]) -> tuple[int, int]:
        if isinstance(key, (tuple, list)):
            epoch, index = (int(k) for k in key)
        else:
            epoch, index = 0, int(key)
            if not self.test_mode and not self._warned_epochless:
                self._warned_epochless = True
                print_log(f'{type(self).__name__} got a bare index in training mode: every epoch will '
                          'reuse epoch 0\'s random frames and crops; use EpochSampler',
                          logger='current', level=logging.WARNING)
        n = len(self.records)
        if not -n <= index < n:
            raise IndexError(f'index {index} out of range for {n} clips')
        return epoch, index % n

    def _choose(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        random = not self.test_mode
        if self.sampling == 'dense':
            return dense_indices(num_frames, self.num_segments, self.dense_interval,
                                 random=random, rng=rng)
        return segment_indices(num_frames, self.num_segments, random=random, rng=rng,
                               twice=self.twice_sample)

    @classmethod
    def for_path(cls, dataset_cfg: Mapping, path: str | os.PathLike, label: int = -1) -> VideoDataset:
        """A test-mode dataset of one clip, ``path`` (a video file or a frame folder), loaded
        the way ``dataset_cfg`` (a ``VideoDataset`` config) loads its clips: the same
        sampling, views, backend, frame names, seed and pipeline. The config's annotation
        and class-name files (``SOURCE_KEYS``) are not read; they need not exist."""
        kwargs = {k: v for k, v in dataset_cfg.items() if k not in SOURCE_KEYS}
        kwargs['test_mode'] = True
        record = VideoRecord(path=os.fspath(path), label=label, clip_id=Path(path).stem)
        return cls(None, records=[record], **kwargs)

    def _read(self, record: VideoRecord, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        """The clip's chosen frames ``[N, H, W, 3]``, their indices and the clip's frame count."""
        with ClipSource(record.path, self.backend, num_frames=record.num_frames,
                        filename_tmpl=self.filename_tmpl, frame_start=self.frame_start) as source:
            num = source.num_frames
            inds = self._choose(num, rng)
            return source.read(inds), inds, num

    def load(self, index: int, epoch: int = 0) -> dict:
        """Load clip ``index`` itself, with no replacement: ``dict(inputs, label, clip_id,
        index, num_views, frame_inds, num_frames)`` (``num_frames``: the clip's frame count).
        Raises DecodeError when it can't be decoded."""
        record = self.records[index]
        rng = clip_rng(self.seed, epoch, index)
        imgs, inds, num = self._read(record, rng)
        results = dict(imgs=imgs, label=record.label, clip_id=record.clip_id, frame_inds=inds,
                       num_frames=num, filename=record.path, rng=rng, epoch=epoch, index=index,
                       test_mode=self.test_mode, num_views=2 if self.twice_sample else 1)
        results = self.pipeline(results)
        if results is None:
            raise RuntimeError(f'the pipeline dropped clip {record.path}')
        if 'inputs' not in results:
            results = self._format(results)
        return dict(inputs=results['inputs'], label=int(results['label']),
                    clip_id=record.clip_id, index=index, num_views=int(results['num_views']),
                    frame_inds=np.asarray(inds, dtype=np.int64), num_frames=int(num))

    def _note_bad(self, path: str, exc: DecodeError) -> None:
        self.skipped[path] = exc.reason
        if path not in self._warned:
            self._warned.add(path)
            print_log(f'skipping undecodable clip: {exc}', logger='current', level=logging.WARNING)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """Load clip ``key`` (or its replacement): ``load``'s dict plus ``replaced``;
        ``index`` is the clip actually loaded. ``inputs``
        holds ``num_views`` views of ``num_segments`` frames, view-major (twice sampling
        and ``ThreeCrop`` make views)."""
        epoch, index = self._key(key)
        n = len(self.records)
        replaced: list[str] = []
        for k in range(min(self.max_retries + 1, n)):
            i = (index + k) % n
            record = self.records[i]
            try:
                sample = self.load(i, epoch)
            except DecodeError as exc:
                self._note_bad(record.path, exc)
                replaced.append(record.path)
                continue
            sample['replaced'] = replaced
            return sample
        raise RuntimeError(f'{len(replaced)} clips in a row from index {index} failed to decode '
                           f'(max_retries={self.max_retries}): {", ".join(replaced)}')


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack``, into shared memory inside a data-loader worker (saves a copy
    when the batch is sent to the main process)."""
    out = None
    if get_worker_info() is not None:
        elem = tensors[0]
        numel = sum(t.numel() for t in tensors)
        storage = elem._typed_storage()._new_shared(numel, device=elem.device)
        out = elem.new(storage).resize_(len(tensors), *elem.shape)
    return torch.stack(tensors, out=out)


@FUNCTIONS.register_module(name='collate_clips')
def collate_clips(batch: list[dict]) -> dict:
    """Batch samples of ``VideoDataset``: ``dict(inputs=uint8 [B, N, 3, H, W],
    data_samples=dict(labels, clip_ids, indices, frame_inds, replaced, num_views))``."""
    if not batch:
        raise ValueError('cannot collate an empty batch')
    shapes = {tuple(b['inputs'].shape) for b in batch}
    if len(shapes) != 1:
        raise ValueError(f'clips in a batch differ in shape: {sorted(shapes)}')
    return dict(
        inputs=_stack([b['inputs'] for b in batch]),
        data_samples=dict(
            labels=torch.tensor([b['label'] for b in batch], dtype=torch.long),
            clip_ids=[b['clip_id'] for b in batch],
            indices=torch.tensor([b['index'] for b in batch], dtype=torch.long),
            frame_inds=torch.from_numpy(np.stack([np.asarray(b['frame_inds'], dtype=np.int64)
                                                  for b in batch])),
            replaced=[p for b in batch for p in b.get('replaced', ())],
            num_views=int(batch[0].get('num_views', 1)),
        ),
    )
