"""The epoch-based training loop, resumable mid-epoch without decoding the consumed clips.

mmengine's ``EpochBasedTrainLoop`` restarts an epoch from its first batch when resumed
from an iteration checkpoint, and its iteration loop skips ahead by loading (decoding) and
discarding every earlier batch: on Kinetics, hours. Here the loop asks the sampler
(:class:`gfvideo.data.EpochSampler`) to drop this rank's consumed samples by index, so
the first batch loaded is the first one not yet trained on. The data order, each clip's
augmentation (keyed by epoch and index), the learning rate and the RNG states are those
of the uninterrupted run.
"""
from __future__ import annotations

import torch
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from ..registry import LOOPS


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that continues an interrupted epoch at the right batch."""

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        per_epoch = len(self.dataloader)
        done = self._iter - self._epoch * per_epoch  # batches of this epoch already trained
        if done > 0:
            sampler = self.dataloader.sampler
            if not hasattr(sampler, 'skip'):
                raise TypeError(f'resuming mid-epoch needs a sampler with skip() (EpochSampler), '
                                f'got {type(sampler).__name__}')
            sampler.skip(done * self.dataloader.batch_size)
            print_log(f'resuming epoch {self._epoch + 1} at batch {done + 1}/{per_epoch}: '
                      f'{done * self.dataloader.batch_size} samples skipped without loading them',
                      logger='current')
            # A new DataLoader iterator draws its base seed from torch's global RNG; the
            # uninterrupted run drew it before the checkpoint's RNG state was taken.
            rng = torch.get_rng_state()
            batches = iter(self.dataloader)
            torch.set_rng_state(rng)
        else:
            batches = iter(self.dataloader)
        for idx, data_batch in enumerate(batches, start=max(done, 0)):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
