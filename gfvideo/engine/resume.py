"""Which checkpoint a run starts from, chosen and checked before training starts.

mmengine resumes from the path ``last_checkpoint`` holds and loads it in the middle of
``Runner.train``: a truncated, empty or foreign file stops the run with PyTorch's
traceback, although an older complete checkpoint lies beside it, and the pointer's
absolute path sends a copied or moved work dir back to the original's files.
``build_runner`` calls :func:`pin_checkpoint`, which decides instead:

- ``--resume`` / ``--resume auto``: the newest checkpoint of the work dir that loads and
  fits the model (:func:`resume_candidates`, newest first; each tried once, stopping at the
  first good one). One that doesn't is skipped with one warning naming it and why.
- ``--resume PATH``: that file, which must load and fit the model.
- ``load_from``: that file, which must load and share at least one tensor with the model
  (loading is partial by design: a new head, a stage adding a policy).

What can't be used raises :class:`CheckpointError` (``cannot resume: PATH: reason``),
which the tools print as one line (exit status 2). The chosen file is then loaded again
by mmengine, the only checkpoint read twice.
"""
from __future__ import annotations

import logging
import os
import os.path as osp
import re
from typing import Any

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..models.base import Recognizer

__all__ = ['CheckpointError', 'pointer_target', 'resume_candidates', 'read_checkpoint', 'newest_loadable',
           'pin_checkpoint']

POINTER = 'last_checkpoint'
NUMBERED = re.compile(r'(epoch|iter)_(\d+)\.pth')  # CheckpointHook's default file names


class CheckpointError(Exception):
    """A checkpoint that can't be used (``path``, ``reason``); ``action`` is what it was for."""

    def __init__(self, path: str | os.PathLike, reason: str, action: str = 'load') -> None:
        self.path, self.reason, self.action = os.fspath(path), reason, action
        super().__init__(f'cannot {action}: {self.path}: {reason}')


def pointer_target(work_dir: str | os.PathLike) -> str | None:
    """The checkpoint ``WORK_DIR/last_checkpoint`` names, preferring the work dir's own copy.

    The pointer holds the path the checkpoint was written to. When the work dir has a file
    of that name, that file is the answer, wherever the path points, so a copied or moved
    work dir resumes from its own checkpoints; otherwise the path as written (checkpoints
    saved to another ``out_dir``). None without a pointer, or with an empty one.
    """
    pointer = osp.join(work_dir, POINTER)
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8', errors='replace') as f:
        stored = f.read().strip()
    if not stored:
        return None
    own = osp.join(work_dir, osp.basename(stored))
    return own if osp.isfile(own) else stored


def resume_candidates(work_dir: str | os.PathLike) -> list[str]:
    """The checkpoints ``--resume auto`` may continue from, newest first.

    The pointer's checkpoint, then the work dir's ``epoch_N.pth`` (or ``iter_N.pth``, as the
    pointer's) numbered below it, by number. Higher numbers than the pointer's are never
    taken: a save whose pointer didn't follow, or an earlier run in the same work dir.
    Without a usable pointer: every numbered checkpoint, by number.
    """
    pointed = pointer_target(work_dir)
    mark = NUMBERED.fullmatch(osp.basename(pointed)) if pointed else None
    numbered = []
    for name in os.listdir(work_dir) if osp.isdir(work_dir) else []:
        m = NUMBERED.fullmatch(name)
        if m and (mark is None or (m[1] == mark[1] and int(m[2]) < int(mark[2]))):
            numbered.append((int(m[2]), osp.join(work_dir, name)))
    older = [path for _, path in sorted(numbered, reverse=True) if path != pointed]
    return ([pointed] if pointed else []) + older


def read_checkpoint(path: str | os.PathLike, model: torch.nn.Module, *, resume: bool) -> dict[str, Any]:
    """Load ``path`` completely (on the CPU, weights only) and check it against ``model``.

    ``resume``: it must be a training checkpoint (``meta``, ``message_hub``) whose state dict
    has exactly the model's keys and shapes; otherwise at least one tensor must fit. Raises
    :class:`CheckpointError` saying what is wrong.
    """
    path = os.fspath(path)
    action = 'resume' if resume else 'load'
    if not osp.isfile(path):
        raise CheckpointError(path, 'no such file', action)
    if osp.getsize(path) == 0:
        raise CheckpointError(path, 'empty file (0 bytes)', action)
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # a truncated zip, a file of another kind, a pickle weights_only refuses
        detail = str(exc).split('. ')[0].strip() or type(exc).__name__
        raise CheckpointError(path, f'truncated or not a PyTorch checkpoint ({detail[:200]})', action) from exc
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise CheckpointError(path, 'not a checkpoint (no state dict)', action)
    if resume and not {'state_dict', 'meta', 'message_hub'} <= checkpoint.keys():
        raise CheckpointError(path, 'weights only, not a training checkpoint (no meta or message hub): '
                                    'start from it with --load-from', action)
    misfit = _misfit(model, state, strict=resume)
    if misfit:
        raise CheckpointError(path, f'saved by a different model: {misfit}', action)
    return checkpoint


def _misfit(model: torch.nn.Module, state: dict, strict: bool) -> str | None:
    """How ``state`` fails to fit ``model`` (None if it fits): all keys and shapes, or any one."""
    own = model.state_dict()
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}  # as mmengine loads it
    if isinstance(model, Recognizer):  # keys of earlier versions, renamed as loading renames them
        state = model.upgrade_state_dict(state)

    def shape(value: Any) -> tuple | None:
        return tuple(value.shape) if isinstance(value, torch.Tensor) else None

    common = own.keys() & state.keys()
    reshaped = sorted(k for k in common if shape(own[k]) != shape(state[k]))
    if not strict:
        return None if len(common) > len(reshaped) else f'none of its {len(state)} tensors fits the model'
    missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
    parts = [f'{len(keys)} {what} (e.g. {keys[0]})' for what, keys in
             (('missing keys', missing), ('unexpected keys', unexpected)) if keys]
    if reshaped:
        k = reshaped[0]
        parts.append(f'{len(reshaped)} shape mismatches (e.g. {k}: {list(shape(state[k]) or ())} in the '
                     f'file, {list(shape(own[k]) or ())} in the model)')
    return ', '.join(parts) or None


def pin_checkpoint(runner) -> None:
    """Choose and check the checkpoint ``runner`` will resume or load from, before it runs.

    Sets the runner's ``load_from`` to the file chosen (mmengine's ``load_or_resume`` reads
    ``runner._load_from``), so mmengine loads exactly that one. ``--resume auto`` with no
    checkpoint at all leaves the run to start from scratch, as mmengine does.
    """
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    path = runner._load_from
    if runner._resume and path is None:
        path = newest_loadable(runner.work_dir, model)
    elif path is not None:
        read_checkpoint(path, model, resume=runner._resume)
    if path is not None:
        runner._load_from = runner.cfg['load_from'] = path  # the run record names the file


def newest_loadable(work_dir: str, model: torch.nn.Module) -> str | None:
    """The newest of :func:`resume_candidates` that :func:`read_checkpoint` accepts.

    Warns once per file skipped; raises :class:`CheckpointError` if there are candidates
    but none loads, returns None if there are none.
    """
    candidates = resume_candidates(work_dir)
    for path in candidates:
        try:
            read_checkpoint(path, model, resume=True)
        except CheckpointError as exc:
            print_log(f'--resume: skipping {exc.path}: {exc.reason}', logger='current', level=logging.WARNING)
            continue
        print_log(f'--resume: continuing from {path}', logger='current')
        return path
    if candidates:
        raise CheckpointError(work_dir, f'none of its {len(candidates)} checkpoints loads '
                                        f'({", ".join(osp.basename(p) for p in candidates)})', 'resume')
    return None
