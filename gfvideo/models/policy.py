"""Where and when to look: the policy that picks each focus step's frames and patch centres.

Every policy has one interface, so an ablation swaps one config key::

    action = policy(observation, k)

The :class:`Observation` holds what the policy may read: the glance network's feature
maps for all N frames ``[B, N, C, h, w]``, the aggregator's state after the steps so far
``[B, H]`` (so what earlier looks saw conditions later ones), how often each frame has
been focused ``[B, N]``, and which frames this step may pick (the focus schedule's rule:
unfocused frames only, or every frame when the schedule revisits). The returned
:class:`Action` names the ``frames`` ``[B, K]`` to look at now and a patch centre
``[B, K, 2]`` in ``[0, 1]`` for each (see :mod:`gfvideo.models.crop` for the convention).

**When** (which frames), ``frames=``:

- ``'fixed'``: the K available frames looked at least so far, in temporal order
  (AdaFocus: every frame gets one patch when ``num_focus_frames = N``; with revisits and
  ``K = N``, every frame again at each step).
- ``'learned'``: a score per frame from its pooled glance feature and the state; the K
  best-scoring available frames (Uni-AdaFocus: the focus budget goes to the frames judged
  most informative). Without revisits focused frames are masked out, so no frame is
  chosen twice. The focus network's online shift across steps then links each step to the
  previously chosen frames rather than to temporal neighbours.
- ``'random'``: K distinct available frames, uniformly.

**Where** (patch centres): ``center``, ``random`` (the model's own generator), and the
learned scorer: a 1x1-conv network over the chosen frame's glance map and the state gives
a score per glance cell; the softmax-weighted mean of the cell centres is the patch centre.

**How it learns** (the ``type`` key, in the ``POLICIES`` registry):

- ``'learned'`` (end to end, AdaFocusV2): the soft-argmax centre is differentiable through
  :func:`gfvideo.models.crop.differentiable_crop` (``crop_grad_scale`` scales that
  gradient), and the supervised objective can regress the cell scores onto random
  patches' outcomes (:mod:`gfvideo.models.objectives`); learned frames are drawn by Gumbel top-k in training with a straight-through
  weight (``Action.frame_weights``: 1 in the forward pass, the gradient of the frames'
  softmax in the backward pass).
- ``'ppo'`` (reinforcement learning, GFNet): the same networks are the actor. Centres are
  Gaussian around the soft-argmax (``std``), frames a categorical over the unfocused
  frames drawn without replacement; the log-probability is the sum of both. A critic
  reads the state and the glance. Trained by :mod:`gfvideo.models.ppo`.

Every policy is built with the same arguments (``glance_channels``, ``state_channels``,
``patch_fraction``, ``generator``: the model's own, saved in checkpoints) plus its config
keys, so a user's policy registered in ``POLICIES`` plugs in by ``type=``.

At test time every policy is deterministic: the mean centre and the most likely frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..registry import POLICIES


@dataclass
class Observation:
    """What a policy reads before a focus step (rows still running).

    Two optional fields serve recurrent policies that read what the previous step saw
    (GFNet's, :mod:`gfvideo.models.gfnet`); the recognizer fills ``previous_maps`` only for
    a policy whose ``reads_previous_maps`` is true, and passes ``Action.policy_state`` on.
    """
    glance_maps: torch.Tensor     # [B, N, C, h, w]
    state: torch.Tensor           # [B, H] aggregator state after the steps so far
    looks: torch.Tensor           # [B, N] long: times each frame has been focused
    available: torch.Tensor       # [B, N] bool: frames this step may pick
    # the feature maps the previous step produced: the glance's (glance_maps) before the
    # first focus step, after it the focus network's maps of the previous step's looks [B, K, C', h', w']
    previous_maps: torch.Tensor | None = None
    policy_state: torch.Tensor | None = None   # [B, ...] the policy's own state after the previous step; None: initial

    @staticmethod
    def cat(observations: list['Observation']) -> 'Observation':
        """Several steps' observations as one batch (step-major), for re-scoring in one call.

        ``previous_maps`` is kept where every step has maps of one shape (else None);
        a missing ``policy_state`` (the first step's) becomes zeros shaped like the others'."""
        fields = [torch.cat([getattr(o, f) for o in observations]) for f in ('glance_maps', 'state', 'looks', 'available')]
        maps = [o.previous_maps for o in observations]
        if any(m is None for m in maps) or len({m.shape[1:] for m in maps}) != 1:
            previous = None
        else:
            previous = torch.cat(maps)
        states = [o.policy_state for o in observations]
        known = next((s for s in states if s is not None), None)
        policy_state = None if known is None else torch.cat([
            s if s is not None else known.new_zeros(o.state.shape[0], *known.shape[1:])
            for o, s in zip(observations, states)])
        return Observation(*fields, previous_maps=previous, policy_state=policy_state)


@dataclass
class Action:
    """One focus step's choice. ``log_prob``/``value`` are set by stochastic (RL) policies."""
    frames: torch.Tensor                    # [B, K] long, frame indices into the N glance frames
    centers: torch.Tensor                   # [B, K, 2] (x, y) in [0, 1]
    log_prob: torch.Tensor | None = None    # [B]
    value: torch.Tensor | None = None       # [B]
    entropy: torch.Tensor | None = None     # [B]
    frame_weights: torch.Tensor | None = None  # [B, K] straight-through weights (end to end)
    policy_state: torch.Tensor | None = None   # [B, ...] a recurrent policy's state, for the next Observation

    @staticmethod
    def cat(actions: list['Action']) -> 'Action':
        """Several steps' frames and centres as one batch (step-major)."""
        return Action(frames=torch.cat([a.frames for a in actions]), centers=torch.cat([a.centers for a in actions]))


def next_frames(looks: torch.Tensor, available: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` available frames looked at least so far, in temporal order: ``[B, K]``."""
    n = looks.shape[1]
    # Fewest looks first, then temporal order; unavailable frames sort last.
    key = torch.arange(n, device=looks.device) + looks.clamp(max=n) * n
    key = key + (~available).long() * (n + 1) * n
    return key.argsort(dim=1)[:, :k]


def masked_frame_logits(scores: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    """Frame logits with unavailable frames at ``-inf`` (they can't be chosen)."""
    return scores.masked_fill(~available, float('-inf'))


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


class Policy(nn.Module):
    """Base class: the frame choice for ``frames='fixed'`` / ``'random'``; subclasses place the patches.

    ``end_to_end``: the centres train through the differentiable crop (the model then
    crops with :func:`gfvideo.models.crop.differentiable_crop` in training).
    ``reads_previous_maps``: the policy reads ``Observation.previous_maps``.
    ``actor_critic``: in training it samples its actions and returns their ``log_prob``,
    ``value`` and ``entropy``, and ``forward(obs, k, action=old)`` re-scores stored ones:
    what the PPO objective trains.
    """

    end_to_end = False
    reads_previous_maps = False   # True: the recognizer fills Observation.previous_maps
    actor_critic = False

    def __init__(self, glance_channels: int = 0, state_channels: int = 0, patch_fraction: float = 0.5,
                 frames: str = 'fixed', generator: torch.Generator | None = None) -> None:
        super().__init__()
        if frames not in ('fixed', 'random'):
            raise ValueError(f"frames must be 'fixed' or 'random', got {frames!r}")
        self.frames = frames
        self.generator = generator

    def forward(self, obs: Observation, k: int) -> Action:
        if self.frames == 'random':  # distinct available frames, uniformly (stage 1 for learned frames)
            logits = masked_frame_logits(torch.zeros(obs.looks.shape, device=obs.looks.device), obs.available)
            frames = gumbel_top_k(logits, k, self.generator)
        else:
            frames = next_frames(obs.looks, obs.available, k)
        return Action(frames=frames, centers=self.locate(obs, frames))

    def locate(self, obs: Observation, frames: torch.Tensor) -> torch.Tensor:
        """Patch centres ``[B, K, 2]`` for the chosen ``frames``."""
        raise NotImplementedError


@POLICIES.register_module(name='center')
class CenterPolicy(Policy):
    """Always the frame centre."""

    def locate(self, obs, frames):
        return obs.glance_maps.new_full((*frames.shape, 2), 0.5)


@POLICIES.register_module(name='random')
class RandomPolicy(Policy):
    """Uniform random centres, drawn from ``generator`` (the model's, saved in checkpoints)."""

    def locate(self, obs, frames):
        centers = torch.rand((*frames.shape, 2), generator=self.generator)
        return centers.to(device=obs.glance_maps.device, dtype=obs.glance_maps.dtype)


@POLICIES.register_module(name='learned')
class LearnedPolicy(Policy):
    """The learned policy, end to end: soft-argmax centres and (optionally) learned frames.

    A 1x1-conv scorer gives one score per glance cell of the chosen frame, conditioned on
    the aggregator state; the softmax-weighted mean of the cell centres (``temperature``
    sharpens it) is where the patch should be centred in the image, converted to the
    patch-position convention of :mod:`gfvideo.models.crop`. With ``frames='learned'`` a
    linear scorer over each frame's pooled glance feature and the state ranks the frames.
    The glance features are detached (as in AdaFocusV2), so the policy's loss does not
    pull on the glance network.

    Signals that train the cell scores by gradient descent: the gradient through the
    differentiable crop (scaled by ``crop_grad_scale``), and (with the supervised
    objective's ``focus_branch='random'`` and ``weights['policy']``) a regression of the
    score of the cell under each random patch onto how well the model told the class after
    looking there (its negative cross-entropy). ``crop_grad_scale`` leaves the centres as
    they are and scales only the gradient they receive: 1 is AdaFocusV2's signal; 0 leaves
    the centres to the regression. On the demo the crop's gradient pulled the score maps
    away from the object, even scaled by 0.1 (README, "The policy"), so the end-to-end
    configs use 0.
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

    def frame_scores(self, obs: Observation) -> torch.Tensor:
        """Logits ``[B, N]`` over the frames, unavailable ones at ``-inf``."""
        pooled = self._maps(obs.glance_maps).mean((-2, -1))              # [B, N, C]
        x = torch.relu(self.frame_in(pooled) + self.state_in(obs.state)[:, None])
        return masked_frame_logits(self.frame_score(x).squeeze(-1), obs.available)

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

    def mean_centers(self, obs: Observation, frames: torch.Tensor) -> torch.Tensor:
        """The soft-argmax centres ``[B, K, 2]`` (unclamped) for the chosen frames."""
        return self.soft_argmax(self.cell_scores(obs.glance_maps, obs.state, frames), obs.glance_maps.shape[-2:])

    def locate(self, obs, frames):
        centers = self.mean_centers(obs, frames).clamp(0, 1)
        if self.crop_grad_scale != 1.0:  # the same centres; the crop's gradient into them scaled
            centers = centers.detach() + self.crop_grad_scale * (centers - centers.detach())
        return centers

    def forward(self, obs: Observation, k: int) -> Action:
        if self.frames == 'fixed':
            return super().forward(obs, k)
        logits = self.frame_scores(obs)
        if not self.training:
            frames = logits.topk(k, dim=-1).indices
            return Action(frames=frames, centers=self.locate(obs, frames))
        frames = gumbel_top_k(logits, k, self.generator)
        probs = logits.softmax(-1).gather(1, frames)
        weights = 1 + probs - probs.detach()                 # 1 forward; d(prob) backward
        return Action(frames=frames, centers=self.locate(obs, frames), frame_weights=weights)


@POLICIES.register_module(name='ppo')
class PPOPolicy(LearnedPolicy):
    """The learned policy as a stochastic actor-critic, trained by PPO (GFNet).

    Actor: centres ``N(soft-argmax, std^2)`` clipped to ``[0, 1]``; with ``frames='learned'``
    frames drawn without replacement from the masked frame softmax. ``log_prob`` is the sum
    over the step's frames of both parts. Critic: a small MLP over the state and the
    glance's mean feature. In eval mode: the mean centre and the top-k frames.

    ``forward(obs, k, action=old)`` re-scores a stored action under the current parameters
    (``log_prob``, ``value``, ``entropy``): the PPO update goes through ``forward`` so a
    DDP wrapper sees it.
    """

    end_to_end = False
    actor_critic = True

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

    def value(self, obs: Observation) -> torch.Tensor:
        pooled = obs.glance_maps.detach().mean((1, 3, 4))                # [B, C]
        return self.value_head(torch.cat([pooled, obs.state], -1)).squeeze(-1)

    def forward(self, obs: Observation, k: int, action: Action | None = None) -> Action:
        logits = self.frame_scores(obs) if self.frames == 'learned' else None
        if action is not None:
            frames = action.frames
        elif logits is None:
            frames = next_frames(obs.looks, obs.available, k)
        elif self.training:
            frames = gumbel_top_k(logits, k, self.generator)
        else:
            frames = logits.topk(k, dim=-1).indices
        mean = self.mean_centers(obs, frames)
        if action is None and not self.training:
            return Action(frames=frames, centers=mean.clamp(0, 1))
        centers, log_prob, entropy = gaussian_centers(mean, self.std, self.generator, action)
        if logits is not None:
            frame_lp, frame_entropy = sequential_log_prob(logits, frames)
            log_prob, entropy = log_prob + frame_lp, entropy + frame_entropy
        return Action(frames=frames, centers=centers, log_prob=log_prob, value=self.value(obs), entropy=entropy)


def gaussian_centers(mean: torch.Tensor, std: float, generator: torch.Generator | None,
                     action: Action | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's Gaussian over patch centres ``[B, K, 2]``: (centres, log-prob, entropy) per row.

    ``action=None`` samples around ``mean`` (clipped to [0, 1], no gradient through the draw);
    a stored ``action`` is re-scored at its own centres."""
    if action is None:
        noise = torch.randn(mean.shape, generator=generator).to(mean)
        centers = (mean + std * noise).clamp(0, 1).detach()
    else:
        centers = action.centers
    gauss = torch.distributions.Normal(mean, std)
    return centers, gauss.log_prob(centers).sum((1, 2)), gauss.entropy().sum((1, 2))


def build_policy(cfg: dict, *, glance_channels: int, state_channels: int, patch_fraction: float,
                 generator: torch.Generator | None) -> Policy:
    """Build ``dict(type=name, **kwargs)`` from the ``POLICIES`` registry with the common arguments."""
    cfg = dict(cfg)
    if POLICIES.get(cfg.get('type')) is None:
        raise KeyError(f'unknown policy type {cfg.get("type")!r}; registered: {", ".join(sorted(POLICIES.module_dict))}')
    return POLICIES.build(cfg, default_args=dict(glance_channels=glance_channels, state_channels=state_channels,
                                                 patch_fraction=patch_fraction, generator=generator))
