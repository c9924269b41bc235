"""Hooks: bit-for-bit resumable training, skipped-video counts, inference fusion for testing."""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from ..models.fuse import fuse_for_inference
from ..registry import HOOKS
from .checkpoint import plain_message_hub, restore_message_hub


def get_rng_states() -> dict:
    """torch (CPU and CUDA), numpy and Python RNG states, as tensors and ints only.

    Plain types keep the checkpoint loadable with ``torch.load(weights_only=True)``.
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    states = dict(torch=torch.get_rng_state(),
                  numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                             has_gauss=int(has_gauss), gauss=float(gauss)),
                  python=dict(version=version, state=list(py_state), gauss=py_gauss))
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Inverse of :func:`get_rng_states`."""
    torch.set_rng_state(states['torch'].cpu())
    n = states['numpy']
    np.random.set_state(('MT19937', n['keys'].numpy().astype(np.uint32), n['pos'], n['has_gauss'], n['gauss']))
    p = states['python']
    random.setstate((p['version'], tuple(p['state']), p['gauss']))
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states['cuda']])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the global RNG states in checkpoints and restore them on resume.

    mmengine's resume restores the seed but not the generators' states, so a resumed
    run would draw different dropout masks than an uninterrupted one. Validation runs
    with the training RNG states forked, so whether or not an epoch validated (a resumed
    run doesn't repeat the validation of the epoch it resumes after) changes nothing.
    Data randomness doesn't depend on these states at all (see gfvideo.data.sampling).
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: dict | None = None
        self._before_val: dict | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_states'] = get_rng_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner._resume and 'rng_states' in checkpoint:
            # mmengine may still re-seed after loading; apply the states when training starts.
            self._pending = checkpoint['rng_states']

    def before_train(self, runner) -> None:
        if self._pending is not None:
            set_rng_states(self._pending)
            self._pending = None

    def before_val(self, runner) -> None:
        self._before_val = get_rng_states()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_rng_states(self._before_val)
            self._before_val = None


@HOOKS.register_module()
class PlainCheckpointHook(Hook):
    """Store mmengine's message hub as tensors and plain types, so resuming works on torch >= 2.6.

    See :mod:`gfvideo.engine.checkpoint`. Runs before mmengine reads the loaded checkpoint.
    """

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = plain_message_hub(checkpoint['message_hub'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = restore_message_hub(checkpoint['message_hub'])


@HOOKS.register_module()
class SkippedVideoHook(Hook):
    """Count training clips whose video couldn't be decoded (and were replaced by another clip).

    The dataset replaces such clips and lists their paths in each batch's
    ``data_samples['replaced']``; this hook logs the count after every epoch and a
    summary at the end of the run, so a broken file costs one warning, not the epoch.
    """

    def __init__(self) -> None:
        self.epoch: Counter = Counter()
        self.total: Counter = Counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if data_batch:
            self.epoch.update(data_batch.get('data_samples', {}).get('replaced', []))

    def after_train_epoch(self, runner) -> None:
        if self.epoch:
            files = ', '.join(sorted(self.epoch)[:5]) + (' ...' if len(self.epoch) > 5 else '')
            runner.logger.warning(f'epoch {runner.epoch + 1}: {sum(self.epoch.values())} clips replaced '
                                  f'because {len(self.epoch)} videos could not be decoded: {files}')
        self.total.update(self.epoch)
        self.epoch.clear()

    def after_run(self, runner) -> None:
        runner.logger.info(f'undecodable videos skipped during training: {len(self.total)} files, '
                           f'{sum(self.total.values())} clips replaced')


@HOOKS.register_module()
class FuseForInferenceHook(Hook):
    """``tools/test.py --fuse``: test the model fused for inference (``gfvideo.models.fuse``).

    Before the first test batch the model is put in eval mode and fused, with that batch as
    the example (the packed CPU weights are laid out for its shapes; the batch runs once
    more for the example, and random generators are restored after it). Testing never
    writes a checkpoint, so the fused model stays in memory only.
    """

    def before_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict | None = None) -> None:
        if batch_idx != 0:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.eval()
        fuse_for_inference(model, lambda: model.test_step(data_batch))
        runner.logger.info('testing the model fused for inference (batch norm folded into the convs)')
