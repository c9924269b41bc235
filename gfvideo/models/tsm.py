"""The temporal shift (TSM): free temporal modelling inside a 2D CNN.

A tensor of ``T`` frames ``[B*T, C, H, W]`` is viewed as ``[B, T, C, H, W]``; 1/8 of the
channels take the next frame's values, another 1/8 the previous frame's, the rest stay.
Frames past either end contribute zeros, except that the previous frame of the first
frame in a call may be given: the slice the previous call carried out (*online* shift).

The shift state is a value, as in TSM's online demo: a backbone call takes the state the
previous call returned and returns the new one (one tensor per shift layer, ``None`` to
start). That is what lets the focus network run look by look (a step's frames at a time)
and still see across steps: inside a call the shift goes both ways, across calls only
forwards in time, and a clip that exits early simply stops.
"""
from __future__ import annotations

import torch
from torch import nn

# One ``[B, fold, H, W]`` slice per shift layer (by slot), or None before the first call.
ShiftState = tuple[torch.Tensor, ...]


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


class TemporalShift(nn.Module):
    """Parameter-free shift placed on a block's residual branch (before its first conv).

    ``forward(x, num_segments, prev)`` returns the shifted tensor and the slice the next
    call's first frame takes as its previous frame (this call's last frame's channels
    ``[fold:2*fold]``). ``slot`` is the layer's index in a backbone's :data:`ShiftState`.
    """

    def __init__(self, slot: int, fold_div: int = 8) -> None:
        super().__init__()
        self.slot = slot
        self.fold_div = fold_div

    def forward(self, x: torch.Tensor, num_segments: int,
                prev: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        bt, c, h, w = x.shape
        x5 = x.view(bt // num_segments, num_segments, c, h, w)
        fold = c // self.fold_div
        return temporal_shift(x5, fold, prev).view(bt, c, h, w), x5[:, -1, fold:2 * fold]

    def extra_repr(self) -> str:
        return f'slot={self.slot}, fold_div={self.fold_div}'


class ShiftBlock:
    """Mixin of blocks that may hold a :class:`TemporalShift` on their residual branch.

    Such a block's ``forward(x, num_segments, prev)`` returns ``(out, carry)``: ``carry``
    is its shift's outgoing slice (``None`` without a shift). Backbones call these blocks
    with the shift state; everything else in them is called with ``x`` alone.
    """

    shift: TemporalShift | None   # set by the block (an attribute, so nn.Module registers the shift)

    def shifted(self, x: torch.Tensor, num_segments: int,
                prev: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The residual branch's input after the shift (``x`` itself without one)."""
        if self.shift is None:
            return x, None
        return self.shift(x, num_segments, prev)


def select_shift_rows(state: ShiftState | None, rows: torch.Tensor) -> ShiftState | None:
    """Keep only ``rows`` (indices into the batch) of a shift state."""
    return None if state is None else tuple(t.index_select(0, rows) for t in state)
