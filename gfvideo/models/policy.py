"""Where and when to look: the policy that picks each focus step's frames and patch centres.

Every locator has one interface, so an ablation swaps one config key::

    action = locator(glance_maps, state, focused, frames_per_step)

``glance_maps`` ``[B, N, C, h, w]`` are the glance network's feature maps for all N
frames, ``state`` ``[B, H]`` the aggregator's state after the steps so far (so earlier
choices condition later ones), ``focused`` ``[B, N]`` marks frames already looked at. The
returned :class:`Action` names the ``frames`` ``[B, K]`` to look at now and a patch centre
``[B, K, 2]`` in ``[0, 1]`` for each (see :mod:`gfvideo.models.crop` for the convention).

**When** (which frames), ``frames=``:

- ``'fixed'``: the first K frames not yet focused, in temporal order (AdaFocus: every
  frame gets one patch when ``num_focus_frames = N``).
- ``'learned'``: a score per frame from its pooled glance feature and the state; the K
  best-scoring frames not yet focused (Uni-AdaFocus: the focus budget goes to the frames
  judged most informative). Focused frames are masked out, so no frame is chosen twice.
  The focus network's online shift across steps then links each step to the previously
  chosen frames rather than to temporal neighbours.

**Where** (patch centres): ``center``, ``random`` (the model's own generator), and the
learned scorer: a 1x1-conv network over the chosen frame's glance map and the state gives
a score per glance cell; the softmax-weighted mean of the cell centres is the patch centre.

**How it learns** (the ``type`` key):

- ``'learned'`` (end to end, AdaFocusV2): the soft-argmax centre is differentiable through
  :func:`gfvideo.models.crop.differentiable_crop` (``crop_grad_scale`` scales that
  gradient), and the recognizer can regress the cell scores onto random patches'
  outcomes; learned frames are drawn by Gumbel top-k in training with a straight-through
  weight (``Action.frame_weights``: 1 in the forward pass, the gradient of the frames'
  softmax in the backward pass).
- ``'ppo'`` (reinforcement learning, GFNet): the same networks are the actor. Centres are
  Gaussian around the soft-argmax (``std``), frames a categorical over the unfocused
  frames drawn without replacement; the log-probability is the sum of both. A critic
  reads the state and the glance. Trained by :mod:`gfvideo.models.ppo`.

At test time every policy is deterministic: the mean centre and the most likely frames.
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
    entropy: torch.Tensor | None = None     # [B]
    frame_weights: torch.Tensor | None = None  # [B, K] straight-through weights (end to end)


def next_frames(focused: torch.Tensor, k: int) -> torch.Tensor:
    """The first ``k`` frames of each row not yet focused, in temporal order: ``[B, K]``."""
    n = focused.shape[1]
    # Unfocused frames sort first (key 0..N-1), focused ones after (key N..2N-1).
    key = torch.arange(n, device=focused.device) + focused.long() * n
    return key.argsort(dim=1)[:, :k]


class Locator(nn.Module):
    """Base class: the fixed frame schedule; subclasses place the patches."""

    # True for a locator whose centres train through the differentiable crop.
    end_to_end = False

    def __init__(self, frames: str = 'fixed', generator: torch.Generator | None = None) -> None:
        super().__init__()
        if frames not in ('fixed', 'random'):
            raise ValueError(f"frames must be 'fixed' or 'random', got {frames!r}")
        self.frames = frames
        self.generator = generator

    def forward(self, glance_maps: torch.Tensor, state: torch.Tensor, focused: torch.Tensor,
                frames_per_step: int) -> Action:
        if self.frames == 'random':  # distinct unfocused frames, uniformly (stage 1 for learned frames)
            logits = masked_frame_logits(torch.zeros(focused.shape, device=focused.device), focused)
            frames = gumbel_top_k(logits, frames_per_step, self.generator)
        else:
            frames = next_frames(focused, frames_per_step)
        return Action(frames=frames, centers=self.locate(glance_maps, state, frames))

    def locate(self, glance_maps: torch.Tensor, state: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def masked_frame_logits(scores: torch.Tensor, focused: torch.Tensor) -> torch.Tensor:
    """Frame logits with focused frames at ``-inf`` (they can't be chosen again)."""
    return scores.masked_fill(focused, float('-inf'))


def gumbel_top_k(logits: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` distinct indices per row drawn without replacement from ``softmax(logits)``
    (the Gumbel top-k trick); ``-inf`` logits are never drawn."""
    u = torch.rand(logits.shape, generator=generator).to(logits).clamp_(1e-9, 1 - 1e-9)
    return (logits - torch.log(-torch.log(u))).topk(k, dim=-1).indices


def sequential_log_prob(logits: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability ``[B]`` of drawing ``frames`` ``[B, K]`` in order, without replacement,
    from ``softmax(logits)``, and the entropy ``[B]`` of the first draw."""
    logp = logits.log_softmax(-1)
    entropy = -(logp.exp() * logp.nan_to_num(neginf=0.0)).sum(-1)
    total = logits.new_zeros(logits.shape[0])
    for j in range(frames.shape[1]):
        logp = logits.log_softmax(-1)
        total = total + logp.gather(1, frames[:, j:j + 1]).squeeze(1)
        logits = logits.scatter(1, frames[:, j:j + 1], float('-inf'))
    return total, entropy


class CenterLocator(Locator):
    """Always the frame centre."""

    def locate(self, glance_maps, state, frames):
        return glance_maps.new_full((*frames.shape, 2), 0.5)


class RandomLocator(Locator):
    """Uniform random centres, drawn from ``generator`` (the model's, saved in checkpoints)."""

    def locate(self, glance_maps, state, frames):
        centers = torch.rand((*frames.shape, 2), generator=self.generator)
        return centers.to(device=glance_maps.device, dtype=glance_maps.dtype)


class LearnedLocator(Locator):
    """The learned policy, end to end: soft-argmax centres and (optionally) learned frames.

    A 1x1-conv scorer gives one score per glance cell of the chosen frame, conditioned on
    the aggregator state; the softmax-weighted mean of the cell centres (``temperature``
    sharpens it) is where the patch should be centred in the image, converted to the
    patch-position convention of :mod:`gfvideo.models.crop`. With ``frames='learned'`` a
    linear scorer over each frame's pooled glance feature and the state ranks the frames.
    The glance features are detached (as in AdaFocusV2), so the policy's loss does not
    pull on the glance network.

    Signals that train the cell scores by gradient descent: the gradient through the
    differentiable crop (scaled by ``crop_grad_scale``), and (with the recognizer's
    ``random_patch_loss`` and ``loss_weights['locator']``) a regression of the score of the
    cell under each random patch onto how well the model told the class after looking
    there (its negative cross-entropy). ``crop_grad_scale`` leaves the centres as they are
    and scales only the gradient they receive: 1 is AdaFocusV2's signal; 0 leaves the
    centres to the regression. On the demo the crop's gradient pulled the score maps away
    from the object, even scaled by 0.1 (README, "The policy"), so the end-to-end configs
    use 0.
    """

    end_to_end = True

    def __init__(self, glance_channels: int, state_channels: int, patch_fraction: float,
                 hidden: int = 64, detach_glance: bool = True, temperature: float = 1.0,
                 frames: str = 'fixed', crop_grad_scale: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        nn.Module.__init__(self)
        if not 0 < patch_fraction < 1:
            raise ValueError(f'patch_fraction (patch / frame size) must be in (0, 1), got {patch_fraction}')
        if frames not in ('fixed', 'learned'):
            raise ValueError(f"frames must be 'fixed' or 'learned', got {frames!r}")
        self.patch_fraction = patch_fraction
        self.detach_glance = detach_glance
        self.temperature = temperature
        if crop_grad_scale < 0:
            raise ValueError(f'crop_grad_scale must be >= 0, got {crop_grad_scale}')
        self.crop_grad_scale = crop_grad_scale
        self.frames = frames
        self.generator = generator
        self.feature_in = nn.Conv2d(glance_channels, hidden, 1)
        self.state_in = nn.Linear(state_channels, hidden)
        self.score = nn.Conv2d(hidden, 1, 1)
        if frames == 'learned':
            self.frame_in = nn.Linear(glance_channels, hidden)
            self.frame_score = nn.Linear(hidden, 1)

    def _maps(self, glance_maps: torch.Tensor) -> torch.Tensor:
        return glance_maps.detach() if self.detach_glance else glance_maps

    def frame_scores(self, glance_maps: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, N]`` over the frames (before masking the focused ones)."""
        pooled = self._maps(glance_maps).mean((-2, -1))                  # [B, N, C]
        x = torch.relu(self.frame_in(pooled) + self.state_in(state)[:, None])
        return self.frame_score(x).squeeze(-1)

    def cell_scores(self, glance_maps: torch.Tensor, state: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K, h*w]`` over the glance cells of the chosen frames."""
        b, k = frames.shape
        _, n, c, h, w = glance_maps.shape
        index = frames[:, :, None, None, None].expand(b, k, c, h, w)
        x = self._maps(glance_maps).gather(1, index).flatten(0, 1)       # [B*K, C, h, w]
        x = self.feature_in(x) + self.state_in(state)[:, None].expand(b, k, -1).reshape(b * k, -1, 1, 1)
        return self.score(torch.relu(x)).view(b, k, h * w)

    def cells_of(self, centers: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Index ``[...]`` of the glance cell holding the centre of the patch placed at ``centers``."""
        h, w = hw
        image_xy = self.patch_fraction / 2 + centers.clamp(0, 1) * (1 - self.patch_fraction)
        col = (image_xy[..., 0] * w).long().clamp(0, w - 1)
        row = (image_xy[..., 1] * h).long().clamp(0, h - 1)
        return row * w + col

    def soft_argmax(self, scores: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Patch centres ``[B, K, 2]`` (crop convention, unclamped) from cell logits ``[B, K, h*w]``."""
        h, w = hw
        weights = (scores / self.temperature).softmax(-1)
        ys, xs = torch.meshgrid((torch.arange(h, device=weights.device) + 0.5) / h,
                                (torch.arange(w, device=weights.device) + 0.5) / w, indexing='ij')
        cells = torch.stack([xs.flatten(), ys.flatten()], -1).to(weights.dtype)  # [h*w, 2]
        half = self.patch_fraction / 2
        return (weights @ cells - half) / (1 - self.patch_fraction)

    def locate(self, glance_maps, state, frames):
        scores = self.cell_scores(glance_maps, state, frames)
        centers = self.soft_argmax(scores, glance_maps.shape[-2:]).clamp(0, 1)
        if self.crop_grad_scale != 1.0:  # the same centres; the crop's gradient into them scaled
            centers = centers.detach() + self.crop_grad_scale * (centers - centers.detach())
        return centers

    def forward(self, glance_maps: torch.Tensor, state: torch.Tensor, focused: torch.Tensor,
                frames_per_step: int) -> Action:
        if self.frames == 'fixed':
            return super().forward(glance_maps, state, focused, frames_per_step)
        logits = masked_frame_logits(self.frame_scores(glance_maps, state), focused)
        if not self.training:
            frames = logits.topk(frames_per_step, dim=-1).indices
            return Action(frames=frames, centers=self.locate(glance_maps, state, frames))
        frames = gumbel_top_k(logits, frames_per_step, self.generator)
        probs = logits.softmax(-1).gather(1, frames)
        weights = 1 + probs - probs.detach()                 # 1 forward; d(prob) backward
        return Action(frames=frames, centers=self.locate(glance_maps, state, frames), frame_weights=weights)


class PPOPolicy(LearnedLocator):
    """The learned policy as a stochastic actor-critic, trained by PPO (GFNet).

    Actor: centres ``N(soft-argmax, std^2)`` clipped to ``[0, 1]``; with ``frames='learned'``
    frames drawn without replacement from the masked frame softmax. ``log_prob`` is the sum
    over the step's frames of both parts. Critic: a small MLP over the state and the
    glance's mean feature. In eval mode: the mean centre and the top-k frames.

    ``forward(..., action=old)`` re-scores a stored action under the current parameters
    (``log_prob``, ``value``, ``entropy``): the PPO update goes through ``forward`` so a
    DDP wrapper sees it.
    """

    end_to_end = False

    def __init__(self, glance_channels: int, state_channels: int, patch_fraction: float,
                 hidden: int = 64, std: float = 0.1, frames: str = 'fixed', temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(glance_channels, state_channels, patch_fraction, hidden=hidden,
                         detach_glance=True, temperature=temperature, frames=frames, generator=generator)
        if std <= 0:
            raise ValueError(f'std must be positive, got {std}')
        self.std = float(std)
        self.value_head = nn.Sequential(nn.Linear(glance_channels + state_channels, hidden), nn.ReLU(),
                                        nn.Linear(hidden, 1))

    def value(self, glance_maps: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        pooled = glance_maps.detach().mean((1, 3, 4))                    # [B, C]
        return self.value_head(torch.cat([pooled, state], -1)).squeeze(-1)

    def forward(self, glance_maps: torch.Tensor, state: torch.Tensor, focused: torch.Tensor,
                frames_per_step: int, action: Action | None = None) -> Action:
        logits = None
        if self.frames == 'learned':
            logits = masked_frame_logits(self.frame_scores(glance_maps, state), focused)
        if action is not None:
            frames = action.frames
        elif logits is None:
            frames = next_frames(focused, frames_per_step)
        elif self.training:
            frames = gumbel_top_k(logits, frames_per_step, self.generator)
        else:
            frames = logits.topk(frames_per_step, dim=-1).indices
        mean = self.soft_argmax(self.cell_scores(glance_maps, state, frames), glance_maps.shape[-2:])
        if action is None and not self.training:
            return Action(frames=frames, centers=mean.clamp(0, 1))
        if action is None:
            noise = torch.randn(mean.shape, generator=self.generator).to(mean)
            centers = (mean + self.std * noise).clamp(0, 1).detach()
        else:
            centers = action.centers
        gauss = torch.distributions.Normal(mean, self.std)
        log_prob = gauss.log_prob(centers).sum((1, 2))
        entropy = gauss.entropy().sum((1, 2))
        if logits is not None:
            frame_lp, frame_entropy = sequential_log_prob(logits, frames)
            log_prob, entropy = log_prob + frame_lp, entropy + frame_entropy
        return Action(frames=frames, centers=centers, log_prob=log_prob,
                      value=self.value(glance_maps, state), entropy=entropy)


def build_locator(cfg: dict, *, glance_channels: int, state_channels: int, patch_fraction: float,
                  generator: torch.Generator | None) -> Locator:
    """Build from ``dict(type='learned'|'ppo'|'random'|'center', **kwargs)``."""
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind == 'center':
        return CenterLocator(generator=generator, **cfg)
    if kind == 'random':
        return RandomLocator(generator=generator, **cfg)
    if kind == 'learned':
        return LearnedLocator(glance_channels, state_channels, patch_fraction, generator=generator, **cfg)
    if kind == 'ppo':
        return PPOPolicy(glance_channels, state_channels, patch_fraction, generator=generator, **cfg)
    raise KeyError(f"unknown locator type {kind!r}; choose 'learned', 'ppo', 'random' or 'center'")
