"""Where to look: locators that choose each focus step's frames and patch centres.

Every locator has one interface, so an ablation swaps one config key::

    action = locator(glance_maps, state, focused, frames_per_step)

``glance_maps`` ``[B, N, C, h, w]`` are the glance network's feature maps for all N
frames, ``state`` ``[B, H]`` the aggregator's state after the steps so far, ``focused``
``[B, N]`` marks frames already looked at. The returned :class:`Action` names the
``frames`` ``[B, K]`` to look at now and a patch centre ``[B, K, 2]`` in ``[0, 1]`` for
each (see :mod:`gfvideo.models.crop` for the coordinate convention).

This module holds the fixed frame schedule (the first K frames not yet focused, in
temporal order, as AdaFocus does) and three locators: ``random`` (uniform centres from
the model's own generator), ``center`` and ``learned``, a small network over the glance
map and aggregator state whose soft-argmax centre is differentiable, so it trains end to
end through :func:`gfvideo.models.crop.differentiable_crop` (AdaFocusV2).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Action:
    """One focus step's choice. ``log_prob``/``value`` are set by stochastic (RL) policies."""
    frames: torch.Tensor                    # [B, K] long, frame indices into the N glance frames
    centers: torch.Tensor                   # [B, K, 2] (x, y) in [0, 1]
    log_prob: torch.Tensor | None = None    # [B]
    value: torch.Tensor | None = None       # [B]


def next_frames(focused: torch.Tensor, k: int) -> torch.Tensor:
    """The first ``k`` frames of each row not yet focused, in temporal order: ``[B, K]``."""
    n = focused.shape[1]
    # Unfocused frames sort first (key 0..N-1), focused ones after (key N..2N-1).
    key = torch.arange(n, device=focused.device) + focused.long() * n
    return key.argsort(dim=1)[:, :k]


class Locator(nn.Module):
    """Base class: the fixed frame schedule; subclasses place the patches."""

    def forward(self, glance_maps: torch.Tensor, state: torch.Tensor, focused: torch.Tensor,
                frames_per_step: int) -> Action:
        frames = next_frames(focused, frames_per_step)
        return Action(frames=frames, centers=self.locate(glance_maps, state, frames))

    def locate(self, glance_maps: torch.Tensor, state: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class CenterLocator(Locator):
    """Always the frame centre."""

    def locate(self, glance_maps, state, frames):
        return glance_maps.new_full((*frames.shape, 2), 0.5)


class RandomLocator(Locator):
    """Uniform random centres, drawn from ``generator`` (the model's, saved in checkpoints)."""

    def __init__(self, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.generator = generator

    def locate(self, glance_maps, state, frames):
        centers = torch.rand((*frames.shape, 2), generator=self.generator)
        return centers.to(device=glance_maps.device, dtype=glance_maps.dtype)


class LearnedLocator(Locator):
    """Soft-argmax over the glance map of each chosen frame, conditioned on the aggregator state.

    A 1x1-conv scorer gives one score per glance cell; the softmax-weighted mean of the
    cell centres (``temperature`` sharpens it) is where the patch should be centred in the
    image, then converted to the patch-position convention of :mod:`gfvideo.models.crop`.
    The glance features are detached (as in AdaFocusV2), so the locator's loss does not
    pull on the glance network.

    Two signals train the scores: the gradient through the differentiable crop, and (with
    the recognizer's ``random_patch_loss``) a regression of the score of the cell under
    each random patch onto how well the focus network recognised the clip from that patch
    (its negative cross-entropy): a map of where looking pays off, learned from labels
    alone. The crop gradient only helps once a patch already overlaps the evidence; the
    regression teaches where the evidence is from the start.
    """

    def __init__(self, glance_channels: int, state_channels: int, patch_fraction: float,
                 hidden: int = 64, detach_glance: bool = True, temperature: float = 1.0) -> None:
        super().__init__()
        if not 0 < patch_fraction < 1:
            raise ValueError(f'patch_fraction (patch / frame size) must be in (0, 1), got {patch_fraction}')
        self.patch_fraction = patch_fraction
        self.detach_glance = detach_glance
        self.temperature = temperature
        self.feature_in = nn.Conv2d(glance_channels, hidden, 1)
        self.state_in = nn.Linear(state_channels, hidden)
        self.score = nn.Conv2d(hidden, 1, 1)

    def cell_scores(self, glance_maps: torch.Tensor, state: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K, h*w]`` over the glance cells of the chosen frames."""
        b, k = frames.shape
        _, n, c, h, w = glance_maps.shape
        maps = glance_maps.detach() if self.detach_glance else glance_maps
        index = frames[:, :, None, None, None].expand(b, k, c, h, w)
        x = maps.gather(1, index).flatten(0, 1)                          # [B*K, C, h, w]
        x = self.feature_in(x) + self.state_in(state)[:, None].expand(b, k, -1).reshape(b * k, -1, 1, 1)
        return self.score(torch.relu(x)).view(b, k, h * w)

    def cells_of(self, centers: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Index ``[...]`` of the glance cell holding the centre of the patch placed at ``centers``."""
        h, w = hw
        image_xy = self.patch_fraction / 2 + centers.clamp(0, 1) * (1 - self.patch_fraction)
        col = (image_xy[..., 0] * w).long().clamp(0, w - 1)
        row = (image_xy[..., 1] * h).long().clamp(0, h - 1)
        return row * w + col

    def locate(self, glance_maps, state, frames):
        h, w = glance_maps.shape[-2:]
        weights = (self.cell_scores(glance_maps, state, frames) / self.temperature).softmax(-1)  # [B, K, h*w]
        ys, xs = torch.meshgrid((torch.arange(h, device=weights.device) + 0.5) / h,
                                (torch.arange(w, device=weights.device) + 0.5) / w, indexing='ij')
        cells = torch.stack([xs.flatten(), ys.flatten()], -1).to(weights.dtype)  # [h*w, 2]
        image_xy = weights @ cells                                             # [B, K, 2]
        half = self.patch_fraction / 2
        return ((image_xy - half) / (1 - self.patch_fraction)).clamp(0, 1)


def build_locator(cfg: dict, *, glance_channels: int, state_channels: int, patch_fraction: float,
                  generator: torch.Generator | None) -> Locator:
    """Build from ``dict(type='learned'|'random'|'center', **kwargs)``."""
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind == 'center':
        return CenterLocator(**cfg)
    if kind == 'random':
        return RandomLocator(generator=generator, **cfg)
    if kind == 'learned':
        return LearnedLocator(glance_channels, state_channels, patch_fraction, **cfg)
    raise KeyError(f"unknown locator type {kind!r}; choose 'learned', 'random' or 'center'")
