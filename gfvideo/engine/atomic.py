"""Checkpoints that survive a kill mid-write.

mmengine writes a checkpoint by opening its final path and streaming into it, and then
rewrites ``last_checkpoint`` in place, so a SIGKILL (out-of-memory killer, preemption) at
the wrong moment leaves a truncated ``epoch_N.pth`` or an empty pointer, and ``--resume``
fails. Here every file goes to a temporary name in the same folder, is fsynced and then
``os.replace``d over the final name: readers see the old file or the new one, never a part.

- :func:`atomic_write`: the write itself.
- ``AtomicLocalBackend`` (file backend ``'atomic_local'``): mmengine's local backend with
  atomic ``put`` / ``put_text``; checkpoints go through it.
- ``AtomicCheckpointHook``: mmengine's ``CheckpointHook`` writing through that backend and
  writing the pointer atomically; it also deletes the oldest checkpoint (``max_keep_ckpts``)
  only once the new one and the pointer are in place. ``build_config`` puts it in place of
  ``CheckpointHook``.

A killed write leaves a stray ``.<name>.<pid>.tmp`` file in the work dir; nothing reads it.
A write that fails (no space left, a read-only or vanished disk) removes its temporary file
and raises :class:`CheckpointWriteError` naming the file: the run stops with the previous
checkpoint and the pointer as they were (tools/train.py prints it as one line).
"""
from __future__ import annotations

import contextlib
import errno
import os
import os.path as osp
from pathlib import Path

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from ..registry import HOOKS

__all__ = ['atomic_write', 'CheckpointWriteError', 'AtomicLocalBackend', 'AtomicCheckpointHook']


class CheckpointWriteError(OSError):
    """A checkpoint or ``last_checkpoint`` that could not be written (``filename``, the OS error)."""

    def __str__(self) -> str:
        code = errno.errorcode.get(self.errno, '') if self.errno is not None else ''
        return (f'cannot save checkpoint: {self.filename}: {self.strerror}{f" ({code})" if code else ""}; '
                f'training stopped, earlier checkpoints and last_checkpoint left as they were')


def atomic_write(path: str | Path, data: bytes | bytearray | memoryview | str, encoding: str = 'utf-8') -> None:
    """Replace ``path`` with ``data`` so that it holds the old content or the new, whatever happens."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}.tmp')
    if isinstance(data, str):
        data = data.encode(encoding)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # 0o666: the umask applies
        with open(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (a no-op where folders can't be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_checkpoint_file(path: str | Path, data: bytes | str, encoding: str = 'utf-8') -> None:
    """:func:`atomic_write`, an OS error becoming :class:`CheckpointWriteError` naming ``path``."""
    try:
        atomic_write(path, data, encoding)
    except OSError as exc:
        raise CheckpointWriteError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc


@register_backend('atomic_local', force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (see :func:`atomic_write`).

    Checkpoints are written through it; a failed write raises :class:`CheckpointWriteError`.
    """

    def put(self, obj: bytes, filepath: str | Path) -> None:
        _write_checkpoint_file(filepath, obj)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        _write_checkpoint_file(filepath, obj, encoding)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) whose checkpoints and ``last_checkpoint`` are kill-safe.

    Applies to local output folders with no ``backend_args`` / ``file_client_args`` of their
    own; anything else is saved exactly as ``CheckpointHook`` saves it.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.atomic = (self.file_client_args is None and self.backend_args is None
                       and '://' not in str(self.out_dir or ''))
        if self.atomic:
            self.backend_args = dict(backend='atomic_local')

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        if not self.atomic:
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        expired = self._rotate(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, filename, save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta,
                               by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        _write_checkpoint_file(osp.join(runner.work_dir, 'last_checkpoint'), str(self.last_ckpt))
        if expired is not None:  # only now: until here it may be the newest complete checkpoint
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(expired))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _rotate(self, runner, step: int) -> int | None:
        """Record ``step`` among the kept checkpoints (``max_keep_ckpts``); return the step to delete.

        The ids are updated before saving, as mmengine does, so the checkpoint holds them.
        """
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return None  # unlimited, or this step was saved already (best and regular in one epoch)
        expired = self.keep_ckpt_ids.popleft() if len(self.keep_ckpt_ids) == self.max_keep_ckpts else None
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return expired
