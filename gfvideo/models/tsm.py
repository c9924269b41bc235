"""The temporal shift (TSM): free temporal modelling inside a 2D CNN.

A tensor of ``T`` frames ``[B*T, C, H, W]`` is viewed as ``[B, T, C, H, W]``; 1/8 of the
channels take the next frame's values, another 1/8 the previous frame's, the rest stay.
Frames past either end contribute zeros, except in *online* mode, where the previous frame
of the first frame in a chunk is the last frame of the previous chunk (cached per layer).

Online mode is what lets the focus network run chunk by chunk (``frames_per_step`` frames
at a time) and still see across chunks: inside a chunk the shift goes both ways, across
chunks only forwards in time, and a clip that exits early simply stops.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


def temporal_shift(x: torch.Tensor, fold: int, prev: torch.Tensor | None = None) -> torch.Tensor:
    """Shift ``x`` ``[B, T, C, H, W]`` along time.

    Channels ``[:fold]`` take frame ``t+1``'s values (zero at the last frame), channels
    ``[fold:2*fold]`` take frame ``t-1``'s (``prev`` ``[B, fold, H, W]`` at the first
    frame, or zero), the rest are unchanged.
    """
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    if prev is not None:
        out[:, 0, fold:2 * fold] = prev
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out


@dataclass
class ShiftContext:
    """Per-call settings shared by every shift of one backbone.

    ``num_segments``: frames per clip in the current call. ``cache``: ``None`` for the
    ordinary (offline) shift; a dict for online mode, read and updated in place, holding
    each shift layer's last-frame slice keyed by the layer's slot.
    """
    num_segments: int = 1
    cache: dict[int, torch.Tensor] | None = field(default=None)


class TemporalShift(nn.Module):
    """Parameter-free shift placed on a block's residual branch (before its first conv)."""

    def __init__(self, context: ShiftContext, slot: int, fold_div: int = 8) -> None:
        super().__init__()
        self.context = context
        self.slot = slot
        self.fold_div = fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.context.num_segments
        bt, c, h, w = x.shape
        x5 = x.view(bt // n, n, c, h, w)
        fold = c // self.fold_div
        cache = self.context.cache
        if cache is None:
            return temporal_shift(x5, fold).view(bt, c, h, w)
        out = temporal_shift(x5, fold, cache.get(self.slot))
        cache[self.slot] = x5[:, -1, fold:2 * fold]
        return out.view(bt, c, h, w)

    def extra_repr(self) -> str:
        return f'slot={self.slot}, fold_div={self.fold_div}'


def select_cache_rows(cache: dict[int, torch.Tensor], rows: torch.Tensor) -> dict[int, torch.Tensor]:
    """Keep only ``rows`` (indices into the batch) of an online-shift cache."""
    return {slot: t.index_select(0, rows) for slot, t in cache.items()}
