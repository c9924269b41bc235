"""The glance-and-focus recognizer: glance -> policy -> focus -> aggregator -> exits.

One code path, :meth:`GlanceFocusRecognizer.run`, serves training and inference:

1. **Glance**: every frame, downsampled to ``glance.size``, through a TSM backbone.
   Exit 0 predicts from the glance alone.
2. **Focus steps**: ``num_focus_frames / frames_per_step`` steps. At each, the locator
   picks the step's frames and a patch centre in each; ``P x P`` patches are cut from the
   full-resolution frames and read by the focus backbone, whose shift runs both ways
   inside the step and online across steps (a per-layer cache of the previous step's last
   frame). ``frames_per_step = num_focus_frames`` is AdaFocus's one-shot focus,
   ``frames_per_step = 1`` GFNet's step by step.
3. **Aggregate and exit**: the aggregator updates its state and gives logits after every
   step. With thresholds set, rows whose max softmax probability reaches their exit's
   threshold leave the batch: inputs, glance features, state, focused-frame masks and
   shift caches are index-selected, so later steps run on fewer rows.

Training runs exactly the same steps, with no thresholds (every row reaches every exit)
and the differentiable crop when the locator learns end to end.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from torch import nn

from ..registry import MODELS
from .aggregator import build_aggregator
from .backbones import TSMBackbone, build_backbone
from .crop import crop, patch_boxes
from .policy import Action, Locator, LearnedLocator, PPOPolicy, RandomLocator, build_locator
from .ppo import PPOConfig, discounted_returns, normalised_advantages, ppo_loss, step_rewards
from .results import clip_result, merge_views, split_views
from .tsm import select_cache_rows


class Glance(nn.Module):
    """Downsample every frame to ``size x size`` and run the glance backbone over all N."""

    def __init__(self, backbone: TSMBackbone, size: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.size = size

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames`` ``[B, N, 3, H, W]`` -> maps ``[B, N, C, h, w]``, pooled ``[B, N, C']``."""
        b, n = frames.shape[:2]
        x = frames.flatten(0, 1)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode='bilinear', align_corners=False,
                              antialias=True)
        maps, pooled = self.backbone(x, num_segments=n)
        return maps.view(b, n, *maps.shape[1:]), pooled.view(b, n, -1)


class Focus(nn.Module):
    """Cut the chosen patches and run the focus backbone on one step's frames."""

    def __init__(self, backbone: TSMBackbone, patch: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.patch = patch

    def forward(self, frames: torch.Tensor, frame_ids: torch.Tensor, centers: torch.Tensor,
                cache: dict[int, torch.Tensor] | None = None,
                differentiable: bool = False) -> torch.Tensor:
        """``frames`` ``[B, N, 3, H, W]``, ``frame_ids`` ``[B, K]``, ``centers`` ``[B, K, 2]`` -> ``[B, K, C]``."""
        b, n = frames.shape[:2]
        k = frame_ids.shape[1]
        flat_ids = (frame_ids + torch.arange(b, device=frames.device)[:, None] * n).flatten()
        patches = crop(frames.flatten(0, 1), centers.flatten(0, 1), self.patch, differentiable,
                       index=flat_ids).contiguous()
        _, pooled = self.backbone(patches, num_segments=k, cache=cache)
        return pooled.view(b, k, -1)


@dataclass
class RunOutput:
    """What :meth:`GlanceFocusRecognizer.run` did, exit by exit.

    ``rows[e]`` are the (original) batch rows that reached exit ``e`` and ``logits[e]``
    their logits there. ``step_rows[t]`` are the rows that went on to focus step ``t``
    (``rows[t]`` less those that left at exit ``t``); ``actions[t]`` and
    ``focus_features[t]`` belong to them. ``exit_index`` / ``final_logits`` give each
    row's exit.
    """
    rows: list[torch.Tensor] = field(default_factory=list)
    logits: list[torch.Tensor] = field(default_factory=list)
    step_rows: list[torch.Tensor] = field(default_factory=list)
    glance_maps: torch.Tensor | None = None     # [B, N, C, h, w], for the training losses
    glance_pooled: torch.Tensor | None = None   # [B, N, C'], the glance features the aggregator reads
    init_state: torch.Tensor | None = None      # aggregator state after the glance
    step_states: list[torch.Tensor] = field(default_factory=list)   # the policy's inputs at each step:
    step_focused: list[torch.Tensor] = field(default_factory=list)  # state and focused-frame mask
    actions: list[Action] = field(default_factory=list)
    focus_features: list[torch.Tensor] = field(default_factory=list)
    exit_index: torch.Tensor | None = None
    final_logits: torch.Tensor | None = None


@MODELS.register_module()
class GlanceFocusRecognizer(BaseModel):
    """Glance-and-focus video recognizer with early exits.

    Args:
        num_classes: classes.
        num_frames: frames per clip (N), all glanced at.
        input_size: side of the full-resolution frames the pipeline produces.
        glance: ``dict(backbone=name, size=px, pretrained=path, feature_stage=None, **backbone_kwargs)``;
            ``feature_stage=None`` picks the deepest stage whose map keeps at least 4x4 cells.
        focus: ``dict(backbone=name, patch=px, pretrained=path, **backbone_kwargs)``.
        locator: ``dict(type='learned'|'random'|'center', ...)``.
        num_focus_frames: frames looked at closely (default N).
        frames_per_step: frames per focus step (K); must divide ``num_focus_frames``.
        aggregator: ``dict(type='gru'|'mean', hidden=256)``.
        loss_weights: ``dict(exits=1.0, focus=1.0, locator=0.0)``: mean cross-entropy over
            every exit, an auxiliary focus-only classifier (AdaFocusV2), and the learned
            locator's regression onto random patches' outcomes (``_random_patch_losses``;
            off by default until it is shown to help).
        random_patch_loss: the auxiliary focus classifier reads random patches (a second
            focus pass per training step) instead of the locator's.
        exit_thresholds: per-exit confidence thresholds for inference (None: no early exit).
        seed: seed of the model's own generator (random patches), saved in checkpoints.
        frozen: parts that don't train, among ``'glance'``, ``'focus'``, ``'aggregator'``,
            ``'policy'`` (the locator) and ``'focus_head'``: no gradients, and eval mode
            (batch-norm statistics stay put) whatever mmengine's ``model.train()`` asks.
        ppo: :class:`gfvideo.models.ppo.PPOConfig` fields. With a ``'ppo'`` locator that is
            not frozen, :meth:`train_step` is a PPO update of the policy alone (GFNet's stage
            2: everything else must be frozen).
    """

    def __init__(self, num_classes: int, num_frames: int, input_size: int, glance: dict, focus: dict,
                 locator: dict | None = None, num_focus_frames: int | None = None,
                 frames_per_step: int | None = None, aggregator: dict | None = None,
                 loss_weights: dict | None = None, random_patch_loss: bool = False,
                 exit_thresholds: list[float] | None = None, frozen: Sequence[str] = (),
                 ppo: dict | None = None, seed: int = 0, data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='gfvideo.VideoDataPreprocessor'),
                         init_cfg=init_cfg)
        glance, focus = dict(glance), dict(focus)
        self.num_classes, self.num_frames, self.input_size = num_classes, num_frames, input_size
        self.num_focus_frames = num_focus_frames or num_frames
        self.frames_per_step = frames_per_step or self.num_focus_frames
        glance_size, patch = glance.pop('size'), focus.pop('patch')
        check_sizes(num_frames, input_size, glance_size, patch, self.num_focus_frames, self.frames_per_step)
        self.num_steps = self.num_focus_frames // self.frames_per_step

        self.glance = Glance(_build_glance_backbone(glance, glance_size), glance_size)
        self.focus = Focus(build_backbone(focus.pop('backbone'), **focus), patch)
        gc, fc = self.glance.backbone.out_channels, self.focus.backbone.out_channels
        self.aggregator = build_aggregator(aggregator, gc, fc, num_classes)
        self.generator = torch.Generator().manual_seed(seed)
        self.locator: Locator = build_locator(
            locator or dict(type='learned'), glance_channels=self.glance.backbone.feature_channels,
            state_channels=self.aggregator.hidden, patch_fraction=patch / input_size,
            generator=self.generator)
        self.focus_head = nn.Linear(fc, num_classes)
        self.loss_weights = {'exits': 1.0, 'focus': 1.0, 'locator': 0.0, **(loss_weights or {})}
        self.random_patch_loss = random_patch_loss
        self.exit_thresholds = exit_thresholds
        self._costs: dict[str, float] | None = None
        # Checkpoints keep plain names when MMSeparateDistributedDataParallel wraps children.
        self._register_state_dict_hook(_drop_wrapper_prefix)
        self._register_load_state_dict_pre_hook(_add_wrapper_prefix, with_module=True)
        self.frozen = tuple(frozen)
        parts = self._parts()
        unknown = sorted(set(self.frozen) - set(parts))
        if unknown:
            raise ValueError(f'model.frozen={list(self.frozen)}: unknown parts {unknown}; choose from {sorted(parts)}')
        for name in self.frozen:
            parts[name].requires_grad_(False)
        self.ppo = PPOConfig(**(ppo or {}))
        if self.trains_by_ppo:
            trainable = sorted(n for n in ('glance', 'focus', 'aggregator') if n not in self.frozen)
            if trainable:
                raise ValueError(f'a PPO policy trains alone (GFNet stage 2): add {trainable} to model.frozen, '
                                 f'or freeze the policy (model.frozen=[\'policy\']) to train the rest with it fixed')

    def _parts(self) -> dict[str, nn.Module]:
        return dict(glance=self.glance, focus=self.focus, aggregator=self.aggregator,
                    policy=self.locator, focus_head=self.focus_head)

    @property
    def policy(self) -> Locator:
        """The locator itself, also when a DDP wrapper holds it (MMSeparateDistributedDataParallel)."""
        return getattr(self.locator, 'module', self.locator)

    @property
    def trains_by_ppo(self) -> bool:
        return isinstance(self.policy, PPOPolicy) and 'policy' not in self.frozen

    def train(self, mode: bool = True) -> 'GlanceFocusRecognizer':
        super().train(mode)
        for name in self.frozen:
            self._parts()[name].eval()
        return self

    @property
    def num_exits(self) -> int:
        return self.num_steps + 1

    # The generator (random patches) travels in the state dict, hence in every checkpoint.
    def get_extra_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)

    def run(self, frames: torch.Tensor, thresholds: list[float] | None = None,
            locator: Locator | None = None) -> RunOutput:
        """Glance, then focus step by step; rows leave at the first exit whose threshold they reach.

        ``locator`` replaces the model's own for this run (e.g. random patches as a baseline)."""
        b, n = frames.shape[:2]
        if n != self.num_frames:
            raise ValueError(f'run() takes clips of model.num_frames={self.num_frames} frames, got {n} '
                             f'(multi-view clips go through predict)')
        out = RunOutput()
        rows = torch.arange(b, device=frames.device)
        exit_index = torch.full((b,), self.num_steps, dtype=torch.long, device=frames.device)
        final_logits = frames.new_zeros(b, self.num_classes)
        maps, pooled = self.glance(frames)
        state, logits = self.aggregator.init(pooled)
        out.glance_maps, out.glance_pooled, out.init_state = maps, pooled, state
        focused = torch.zeros(b, n, dtype=torch.bool, device=frames.device)
        cache: dict[int, torch.Tensor] = {}
        locator = locator or self.locator
        differentiable = self.training and self.policy.end_to_end and locator is self.locator
        for step in range(self.num_exits):
            out.rows.append(rows)
            out.logits.append(logits)
            if step == self.num_steps:
                final_logits[rows] = logits.to(final_logits.dtype)
                break
            if thresholds is not None:
                confidence = logits.detach().float().softmax(-1).amax(-1)
                leaving = confidence >= thresholds[step]
                if leaving.any():
                    exit_index[rows[leaving]] = step
                    final_logits[rows[leaving]] = logits[leaving].to(final_logits.dtype)
                    keep = (~leaving).nonzero().flatten()
                    if keep.numel() == 0:
                        break
                    rows, frames, maps, pooled = rows[keep], frames[keep], maps[keep], pooled[keep]
                    state, focused = state[keep], focused[keep]
                    cache = select_cache_rows(cache, keep)
            out.step_rows.append(rows)
            out.step_states.append(state)
            out.step_focused.append(focused)
            action = locator(maps, state, focused, self.frames_per_step)
            features = self.focus(frames, action.frames, action.centers, cache, differentiable)
            if action.frame_weights is not None:  # straight-through frame choice (end to end)
                features = features * action.frame_weights[..., None].to(features.dtype)
            glance_sel = pooled.gather(1, action.frames[:, :, None].expand(-1, -1, pooled.shape[-1]))
            state, logits = self.aggregator.step(state, glance_sel, features)
            focused = focused.scatter(1, action.frames, True)
            out.actions.append(action)
            out.focus_features.append(features)
        out.exit_index, out.final_logits = exit_index, final_logits
        return out

    def forward(self, inputs: torch.Tensor, data_samples: dict | None = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return self.run(inputs).logits[-1]

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> dict[str, torch.Tensor]:
        labels = data_samples['labels']
        out = self.run(inputs)
        exit_losses = [F.cross_entropy(logits, labels) for logits in out.logits]
        losses = {'loss_exits': self.loss_weights['exits'] * torch.stack(exit_losses).mean()}
        if self.random_patch_loss:
            losses.update(self._random_patch_losses(inputs, labels, out))
        else:
            focus_mean = torch.cat(out.focus_features, dim=1).mean(1)
            losses['loss_focus'] = self.loss_weights['focus'] * F.cross_entropy(self.focus_head(focus_mean), labels)
        with torch.no_grad():
            losses['top1_glance'] = (out.logits[0].argmax(-1) == labels).float().mean()
            losses['top1_last'] = (out.logits[-1].argmax(-1) == labels).float().mean()
        return losses

    def _random_patch_losses(self, frames: torch.Tensor, labels: torch.Tensor, out: RunOutput) -> dict:
        """AdaFocusV2's random-patch branch, per frame; it also teaches a learned locator where to look.

        Random patches on every focus frame go through the focus network and the focus-only
        classifier (on their mean feature), so the focus network learns to recognise what it
        sees wherever the patch lands (``loss_focus``). With ``loss_weights['locator'] > 0``,
        a :class:`LearnedLocator`'s score for the glance cell under each random patch
        regresses onto the negative cross-entropy of the aggregator's prediction after one
        focus step on that patch alone, from the glance's state (``loss_locator``): high
        where looking helped the model itself. (A focus-only head's judgement of the single
        patch can disagree with the model's: on the demo it taught one policy to avoid the
        object.)
        """
        b, k = frames.shape[0], self.num_focus_frames
        ids = torch.arange(k, device=frames.device).expand(b, k)
        centers = torch.rand((b, k, 2), generator=self.generator).to(frames)
        features = self.focus(frames, ids, centers)                                # [B, K, C]
        losses = {'loss_focus': self.loss_weights['focus'] * F.cross_entropy(self.focus_head(features.mean(1)), labels)}
        if isinstance(self.policy, LearnedLocator) and self.loss_weights['locator'] > 0:
            with torch.no_grad():  # how well the model tells the class after that one patch
                state = out.init_state.detach().repeat_interleave(k, 0)              # [B*K, H]
                glance = out.glance_pooled.detach().gather(
                    1, ids[..., None].expand(-1, -1, out.glance_pooled.shape[-1]))    # [B, K, C']
                _, logits = self.aggregator.step(state, glance.reshape(b * k, 1, -1),
                                                 features.detach().reshape(b * k, 1, -1))
                ce = F.cross_entropy(logits, labels.repeat_interleave(k), reduction='none').view(b, k)
            maps = out.glance_maps
            scores = self.policy.cell_scores(maps, out.init_state.detach(), ids)   # [B, K, h*w]
            cells = self.policy.cells_of(centers, maps.shape[-2:])
            picked = scores.gather(-1, cells[..., None]).squeeze(-1)
            losses['loss_locator'] = self.loss_weights['locator'] * F.mse_loss(picked, -ce)
        return losses

    def train_step(self, data: dict, optim_wrapper) -> dict[str, torch.Tensor]:
        """mmengine's training step: supervised (one optimizer), or a PPO update of the policy.

        For PPO, ``optim_wrapper`` is an ``OptimWrapperDict`` with a ``'policy'`` entry (see
        ``gfvideo.engine.optim.GlanceFocusOptimWrapperConstructor``) or a plain wrapper.
        """
        if not self.trains_by_ppo:
            return super().train_step(data, optim_wrapper)
        wrapper = optim_wrapper['policy'] if isinstance(optim_wrapper, OptimWrapperDict) else optim_wrapper
        data = self.data_preprocessor(data, True)
        return self.ppo_update(data['inputs'], data['data_samples']['labels'], wrapper)

    def ppo_update(self, inputs: torch.Tensor, labels: torch.Tensor, wrapper) -> dict[str, torch.Tensor]:
        """Sample episodes with the current policy, then ``ppo.epochs`` PPO updates (see ``ppo``)."""
        cfg = self.ppo
        with torch.no_grad(), wrapper.optim_context(self):
            out = self.run(inputs)
            probs = torch.stack([l.float().softmax(-1).gather(1, labels[:, None]).squeeze(1) for l in out.logits], 1)
            baseline = None
            if cfg.random_baseline:
                rand = self.run(inputs, locator=RandomLocator(frames=self.policy.frames if
                                                              self.policy.frames != 'learned' else 'random',
                                                              generator=self.generator))
                baseline = torch.stack([l.float().softmax(-1).gather(1, labels[:, None]).squeeze(1)
                                        for l in rand.logits], 1)
            rewards = step_rewards(probs, baseline)                                 # [B, T]
            returns = discounted_returns(rewards, cfg.gamma)
            old_log_prob = torch.stack([a.log_prob for a in out.actions], 1).float()
            advantages = normalised_advantages(returns, torch.stack([a.value for a in out.actions], 1).float())
        # every step's policy inputs in one batch: one forward (and one DDP reduction) per epoch
        t = len(out.actions)
        maps = out.glance_maps.repeat(t, *([1] * (out.glance_maps.dim() - 1)))
        states, focused = torch.cat(out.step_states), torch.cat(out.step_focused)
        taken = Action(frames=torch.cat([a.frames for a in out.actions]),
                       centers=torch.cat([a.centers for a in out.actions]))
        flat = lambda x: x.t().reshape(-1)  # [B, T] -> step-major [T * B]
        for _ in range(cfg.epochs):
            with wrapper.optim_context(self):
                new = self.locator(maps, states, focused, self.frames_per_step, action=taken)
                loss, stats = ppo_loss(new.log_prob.float(), flat(old_log_prob), flat(advantages),
                                       new.value.float(), flat(returns), new.entropy.float(), self.ppo)
            wrapper.update_params(loss)
        return dict(loss=loss.detach(), reward=rewards.sum(1).mean(), **stats,
                    top1_last=(out.logits[-1].argmax(-1) == labels).float().mean())

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: dict | None = None) -> list[dict]:
        """Per-clip results: scores, exit taken, confidences, frames and boxes looked at, GFLOPs.

        Multi-view clips run view by view, with early exit per view (see ``results``)."""
        inputs, views = split_views(inputs, self.num_frames)
        out = self.run(inputs, self.exit_thresholds)
        costs = self.exit_costs()
        b = inputs.shape[0]
        confidences = [[] for _ in range(b)]
        for rows, logits in zip(out.rows, out.logits):
            for r, c in zip(rows.tolist(), logits.float().softmax(-1).amax(-1).tolist()):
                confidences[r].append(c)
        looks = [[] for _ in range(b)]
        frame_hw = inputs.shape[-2:]
        for rows, action in zip(out.step_rows, out.actions):
            boxes = patch_boxes(action.centers, frame_hw, self.focus.patch)
            for r, f, bx in zip(rows.tolist(), action.frames.tolist(), boxes.tolist()):
                looks[r].append(dict(frames=f, boxes=bx))
        return merge_views([clip_result(data_samples, i // views, out.final_logits[i], int(out.exit_index[i]),
                                        costs[int(out.exit_index[i])], confidences=confidences[i], looks=looks[i])
                            for i in range(b)], views)

    def component_costs(self) -> dict[str, float]:
        """GFLOPs of each component for one clip, counted once per model (see gfvideo.compute.flops)."""
        if self._costs is None:
            from ..compute.costs import glance_focus_costs
            self._costs = glance_focus_costs(self)
        return self._costs

    def exit_costs(self, costs: dict[str, float] | None = None) -> list[float]:
        """Cumulative GFLOPs of a clip that leaves at exit ``e``, for every exit.

        ``costs``: component costs to sum (default :meth:`component_costs`).
        """
        c = costs or self.component_costs()
        per_step = c['locator'] + c['focus'] + c['aggregator_step']
        base = c['glance'] + c['aggregator_init']
        return [base + e * per_step for e in range(self.num_exits)]


def _wrapped_children(model: nn.Module) -> list[str]:
    return [name for name, child in model.named_children() if isinstance(child, nn.parallel.DistributedDataParallel)]


def _drop_wrapper_prefix(model: nn.Module, state_dict: dict, prefix: str, local_metadata) -> None:
    """``locator.module.score.weight`` -> ``locator.score.weight`` for DDP-wrapped children."""
    for name in _wrapped_children(model):
        wrapped = f'{prefix}{name}.module.'
        for key in [k for k in state_dict if k.startswith(wrapped)]:
            state_dict[f'{prefix}{name}.{key[len(wrapped):]}'] = state_dict.pop(key)


def _add_wrapper_prefix(model: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """The reverse, when loading plain names into a model whose children are DDP-wrapped."""
    for name in _wrapped_children(model):
        plain, wrapped = f'{prefix}{name}.', f'{prefix}{name}.module.'
        for key in [k for k in state_dict if k.startswith(plain) and not k.startswith(wrapped)]:
            state_dict[wrapped + key[len(plain):]] = state_dict.pop(key)


def check_sizes(num_frames: int, input_size: int, glance_size: int, patch: int,
                num_focus_frames: int, frames_per_step: int) -> None:
    """Refuse sizes and focus schedules that can't work, naming the config key (ValueError).

    Shared by the recognizer and config validation (``gfvideo.engine.validation``).
    """
    if glance_size > input_size:
        raise ValueError(f'model.glance.size={glance_size} is larger than model.input_size={input_size}')
    if patch >= input_size:
        raise ValueError(f'model.focus.patch={patch} must be smaller than model.input_size={input_size}')
    if not 0 < num_focus_frames <= num_frames:
        raise ValueError(f'model.num_focus_frames={num_focus_frames} must be in 1..model.num_frames={num_frames}')
    if not 0 < frames_per_step <= num_focus_frames:
        raise ValueError(f'model.frames_per_step={frames_per_step} gives no focus step '
                         f'(model.num_focus_frames={num_focus_frames})')
    if num_focus_frames % frames_per_step:
        raise ValueError(f'model.frames_per_step={frames_per_step} does not divide '
                         f'model.num_focus_frames={num_focus_frames}')


def _build_glance_backbone(cfg: dict, size: int) -> TSMBackbone:
    """Build the glance backbone; by default its feature map is the deepest stage with >= 4x4 cells."""
    name, stage = cfg.pop('backbone'), cfg.pop('feature_stage', None)
    backbone = build_backbone(name, **cfg)
    if stage is None:
        stage = max([s for s in (1, 2, 3, 4) if backbone.stage_size(size, s) >= 4], default=1)
    if backbone.stage_size(size, stage) < 4:
        raise ValueError(f'glance feature map of stage {stage} at {size}px is smaller than 4x4')
    backbone.feature_stage = stage
    return backbone
