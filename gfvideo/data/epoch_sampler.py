"""A DefaultSampler that yields ``(epoch, index)`` so each clip's randomness is keyed by both."""
from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from gfvideo.registry import DATA_SAMPLERS

__all__ = ['EpochSampler']


@DATA_SAMPLERS.register_module()
class EpochSampler(Sampler):
    """mmengine ``DefaultSampler`` semantics, yielding ``(epoch, index)`` tuples.

    Order: a permutation from ``torch.Generator`` seeded with ``seed + epoch`` (or
    ``0..len-1`` without shuffle); with ``round_up`` the list is repeated to a
    multiple of the world size; rank ``r`` takes every ``world_size``-th entry
    from ``r``. The dataset keys each clip's RNG by ``(seed, epoch, index)``, so a
    sample is the same whichever worker loads it and whenever it is loaded.

    Resuming mid-epoch: ``skip(n)`` makes the next ``__iter__`` drop this rank's
    first ``n`` entries without loading them (once; later epochs are whole).
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None,
                 round_up: bool = True, rank: int | None = None,
                 world_size: int | None = None) -> None:
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'rank {self.rank} is outside world_size {self.world_size}')
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.round_up = round_up
        self.epoch = 0
        self._skip = 0
        size = len(dataset)
        if round_up:
            self.num_samples = math.ceil(size / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = max(0, math.ceil((size - self.rank) / self.world_size))
            self.total_size = size

    def _indices(self) -> list[int]:
        size = len(self.dataset)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(size, generator=g).tolist()
        else:
            order = list(range(size))
        if self.round_up and order:
            order = (order * (self.total_size // size + 1))[:self.total_size]
        return order[self.rank:self.total_size:self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        skip, self._skip = self._skip, 0
        epoch = self.epoch
        return iter([(epoch, i) for i in self._indices()[skip:]])

    def __len__(self) -> int:
        """Samples the next ``__iter__`` yields on this rank (less a pending skip)."""
        return max(0, self.num_samples - self._skip)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch: it seeds the permutation and is passed on to the dataset."""
        self.epoch = int(epoch)

    def skip(self, n: int) -> None:
        """Drop this rank's first ``n`` samples of the next iteration (resume mid-epoch)."""
        if n < 0:
            raise ValueError(f'skip must be >= 0, got {n}')
        self._skip = int(n)

    def state_dict(self) -> dict:
        return dict(epoch=self.epoch, seed=self.seed, skip=self._skip)

    def load_state_dict(self, state: dict) -> None:
        """Restore epoch, seed and a pending skip: a resumed run continues the same order."""
        self.epoch = int(state['epoch'])
        self.seed = int(state.get('seed', self.seed))
        self._skip = int(state.get('skip', 0))
