"""Stop training at the first non-finite loss or gradient, before it reaches a checkpoint.

A NaN or inf loss poisons every weight at the next optimizer step, and mmengine would go
on training and write the poisoned weights into the epoch's checkpoint. ``NonFiniteLossHook``
checks the gradients just before each optimizer step (a torch step pre-hook) and the loss
after each iteration, and raises ``FloatingPointError`` naming the iteration and epoch. The
exception leaves the run before ``CheckpointHook`` saves again, so the last checkpoint on
disk is the last good one (``--resume`` continues from it, e.g. with a lower learning rate).

Large but finite gradients are a different matter: clip them with the optimizer wrapper's
``clip_grad``, e.g. ``--cfg-options optim_wrapper.clip_grad.max_norm=5`` (the demo schedule
clips at 20; ``optim_wrapper.clip_grad=None`` switches clipping off).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict

from ..registry import HOOKS

__all__ = ['NonFiniteLossHook']


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` at the first non-finite gradient (before the step) or loss.

    With AMP the loss scaler skips overflowing steps itself without calling the optimizer,
    so its overflows are not reported; a non-finite loss still is.
    """

    priority = 'VERY_HIGH'  # ahead of LoggerHook and CheckpointHook in after_train_iter

    def __init__(self) -> None:
        self._handles: list[Any] = []
        self._batch_idx = 0

    def before_train(self, runner) -> None:
        wrappers = (runner.optim_wrapper.optim_wrappers.values()
                    if isinstance(runner.optim_wrapper, OptimWrapperDict) else [runner.optim_wrapper])
        for wrapper in wrappers:
            self._handles.append(wrapper.optimizer.register_step_pre_hook(
                lambda optimizer, args, kwargs: self._check_gradients(runner, optimizer, kwargs)))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._batch_idx = batch_idx

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is not None and not _finite(loss):
            self._stop(runner, f'loss is {float(loss)}')

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _check_gradients(self, runner, optimizer: torch.optim.Optimizer, kwargs: dict) -> None:
        if 'found_inf' in kwargs or 'grad_scale' in kwargs:
            return  # a fused optimizer under AMP: the scaler's own inf check decides
        grads = [p.grad for group in optimizer.param_groups for p in group['params'] if p.grad is not None]
        if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
            self._stop(runner, 'gradients are not finite (the loss or its backward pass overflowed)')

    def _stop(self, runner, what: str) -> None:
        last = runner.message_hub.get_info('last_ckpt')
        kept = f'the last checkpoint, {last}, is kept' if last else 'no checkpoint was saved yet'
        message = (f'training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                   f'iteration {self._batch_idx + 1} of the epoch): {what}; {kept}. Lower the learning '
                   f'rate or clip gradients (optim_wrapper.clip_grad) and --resume')
        runner.logger.error(message)
        raise FloatingPointError(message)


def _finite(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value).all())
    return math.isfinite(float(value))
