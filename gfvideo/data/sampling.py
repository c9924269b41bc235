"""Which frames to read: TSN segment sampling and dense sampling, plus the per-clip RNG."""
from __future__ import annotations

import numpy as np

__all__ = ['clip_rng', 'segment_indices', 'dense_indices']


def clip_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The only source of data randomness: a generator keyed by ``(seed, epoch, index)``.

    A clip's frames, crops and flips then depend on nothing else: not on which
    worker loads it, how many workers there are, the order in which they fetch, or
    how many draws came before. A run with 0 or 8 workers yields identical batches,
    and a run resumed at epoch ``e`` reproduces the clips of an uninterrupted run
    without saving or replaying any RNG state.
    """
    return np.random.default_rng([int(seed), int(epoch), int(index)])


def _check(num_frames: int, num_segments: int) -> None:
    if num_frames < 1:
        raise ValueError(f'num_frames must be >= 1, got {num_frames}')
    if num_segments < 1:
        raise ValueError(f'num_segments must be >= 1, got {num_segments}')


def segment_indices(num_frames: int, num_segments: int, *, random: bool,
                    rng: np.random.Generator | None = None, twice: bool = False) -> np.ndarray:
    """TSN sampling: one 0-based frame index per equal segment of the video.

    ``random=True`` (training) takes a uniformly random frame inside each segment
    (needs ``rng``); otherwise each segment's centre. ``twice`` (test only) appends a
    second clip made of the segment starts, giving ``2 * num_segments`` indices.
    Videos shorter than ``num_segments`` repeat frames in order (``[0, 0, 1, 1]`` for
    2 frames and 4 segments), so the result always has ``num_segments`` entries.
    """
    _check(num_frames, num_segments)
    if random and twice:
        raise ValueError('twice sampling is for testing only (random=False)')
    if random and rng is None:
        raise ValueError('random sampling needs rng (see clip_rng)')
    seg = np.arange(num_segments)
    if num_frames < num_segments:
        inds = seg * num_frames // num_segments
        return np.concatenate([inds, inds]) if twice else inds
    starts = seg * num_frames // num_segments
    ends = (seg + 1) * num_frames // num_segments  # exclusive, ends > starts here
    if random:
        return rng.integers(starts, ends).astype(np.int64)
    centres = ((2 * seg + 1) * num_frames // (2 * num_segments)).astype(np.int64)
    return np.concatenate([centres, starts]) if twice else centres


def dense_indices(num_frames: int, num_segments: int, interval: int, *, random: bool,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Dense sampling: ``num_segments`` frames ``interval`` apart in one window.

    The window starts at a random frame in training and is centred in testing; a
    window longer than the video starts at 0 and its tail repeats the last frame.
    """
    _check(num_frames, num_segments)
    if interval < 1:
        raise ValueError(f'interval must be >= 1, got {interval}')
    if random and rng is None:
        raise ValueError('random sampling needs rng (see clip_rng)')
    span = (num_segments - 1) * interval + 1
    slack = max(num_frames - span, 0)
    start = int(rng.integers(0, slack + 1)) if random else slack // 2
    inds = start + np.arange(num_segments, dtype=np.int64) * interval
    return np.minimum(inds, num_frames - 1)
