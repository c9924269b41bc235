"""Cutting focus patches out of full-resolution frames.

Convention: a patch centre ``(x, y)`` in ``[0, 1]`` maps linearly onto the range of valid
patch positions, so a ``P x P`` patch in a ``W``-wide frame has its left edge at
``x * (W - P)`` pixels: ``x = 0`` puts it against the left border, ``x = 1`` against the
right one, ``0.5`` in the middle. The patch therefore never leaves the frame and needs no
clamping inside ``[0, 1]``; values outside are clamped. Pixel ``i`` of the patch samples
the frame at ``left + i + 0.5`` in continuous coordinates (pixel centres, i.e.
``align_corners=False``), so at integer ``left`` the differentiable crop returns exactly
the pixels the hard crop copies.

The hard crop rounds the continuous corner to the nearest pixel by default;
``rounding='floor'`` takes its floor instead, which is GFNet's convention (its patch starts
at ``floor(a * (S - P))``, ``a`` in ``[0, 1]`` being the same linear position as here;
docs/references.md#gfnet-pytorch-checkpoints).

Both crops read only the patch's pixels (one batched gather / ``grid_sample``, no
per-sample Python loop, no copy of whole frames).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def patch_origins(centers: torch.Tensor, frame_hw: tuple[int, int], patch: int) -> torch.Tensor:
    """Continuous top-left corners ``[..., 2]`` (x, y, in pixels) of patches centred at ``centers``."""
    h, w = frame_hw
    span = centers.new_tensor([w - patch, h - patch])
    return centers.clamp(0, 1) * span


ROUNDINGS = ('round', 'floor')


def patch_boxes(centers: torch.Tensor, frame_hw: tuple[int, int], patch: int,
                rounding: str = 'round') -> torch.Tensor:
    """Integer boxes ``[..., 4]`` (x0, y0, x1, y1) that :func:`hard_crop` cuts (``rounding``: 'round' or 'floor')."""
    if rounding not in ROUNDINGS:
        raise ValueError(f'rounding must be one of {ROUNDINGS}, got {rounding!r}')
    origin = patch_origins(centers, frame_hw, patch)
    origin = (origin.floor() if rounding == 'floor' else origin.round()).long()
    return torch.cat([origin, origin + patch], dim=-1)


def hard_crop(frames: torch.Tensor, centers: torch.Tensor, patch: int,
              index: torch.Tensor | None = None, rounding: str = 'round') -> torch.Tensor:
    """Copy ``P x P`` patches out of ``frames`` ``[M, C, H, W]``.

    ``centers`` ``[R, 2]``; patch ``r`` comes from frame ``index[r]`` (default ``r``).
    Returns ``[R, C, P, P]``.
    """
    h, w = frames.shape[-2:]
    x0, y0 = patch_boxes(centers, (h, w), patch, rounding)[:, :2].unbind(-1)
    offsets = torch.arange(patch, device=frames.device)
    rows = (y0[:, None] + offsets)[:, :, None]   # [R, P, 1]
    cols = (x0[:, None] + offsets)[:, None, :]   # [R, 1, P]
    if index is None:
        index = torch.arange(centers.shape[0], device=frames.device)
    # Advanced indexing on dims 0, 2, 3 gathers only the patch pixels, channels last.
    return frames.permute(0, 2, 3, 1)[index[:, None, None], rows, cols].permute(0, 3, 1, 2)


def differentiable_crop(frames: torch.Tensor, centers: torch.Tensor, patch: int,
                        index: torch.Tensor | None = None) -> torch.Tensor:
    """Bilinear ``P x P`` patches whose values are differentiable in ``centers`` (AdaFocusV2).

    Same convention, arguments and shapes as :func:`hard_crop`.
    """
    if index is not None:
        frames = frames.index_select(0, index)
    h, w = frames.shape[-2:]
    origin = patch_origins(centers, (h, w), patch)                      # [M, 2] pixels
    offsets = torch.arange(patch, device=frames.device, dtype=frames.dtype) + 0.5
    xs = (origin[:, 0:1] + offsets) * (2.0 / w) - 1.0                   # [M, P] in [-1, 1]
    ys = (origin[:, 1:2] + offsets) * (2.0 / h) - 1.0
    grid = torch.stack(torch.broadcast_tensors(xs[:, None, :], ys[:, :, None]), dim=-1)
    return F.grid_sample(frames, grid.to(frames.dtype), mode='bilinear', padding_mode='border',
                         align_corners=False)


def crop(frames: torch.Tensor, centers: torch.Tensor, patch: int, differentiable: bool,
         index: torch.Tensor | None = None, rounding: str = 'round') -> torch.Tensor:
    """Dispatch to :func:`differentiable_crop` or :func:`hard_crop` (``rounding``: the hard crop's)."""
    if differentiable:
        return differentiable_crop(frames, centers, patch, index)
    return hard_crop(frames, centers, patch, index, rounding)
