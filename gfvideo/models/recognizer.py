"""The glance-and-focus recognizer: glance -> policy -> focus -> aggregator -> exits.

The whole method is one loop over two calls (:meth:`GlanceFocusRecognizer.run`)::

    maps, pooled = glance(frames)                       # all N frames at low resolution: exit 0
    for t in 1..T:                                      # the focus schedule's steps
        rows still running leave if their exit-(t-1) score reaches its threshold
        action = policy(observation, K_t)               # which frames, and where, from what was seen
        features, shift = focus(frames, action, shift)  # P x P patches at full resolution
        state, logits = aggregator.step(state, ...)     # exit t
    -> Episode (one Step per exit: rows, state, observation, action, features, logits, cost)

1. **Glance**: every frame, downsampled to ``glance.size``, through a TSM backbone.
2. **Focus steps** (:mod:`gfvideo.models.schedule`): at each, the policy picks the step's
   frames and a patch centre in each; patches are cut from the full-resolution frames and
   read by the focus backbone. Its temporal shift treats the looks as one stream, in the
   order they are taken (steps in order, a step's frames in slot order): inside a step it
   runs both ways, across steps forwards only (the online shift state goes into each
   call and comes out of it). A revisited frame is simply a later look in that stream.
3. **Aggregate and exit**: the aggregator updates its state and gives logits after every
   step. With an exit rule (thresholds on a score: max softmax probability by default,
   :class:`~gfvideo.compute.exit_scores.ExitRule`), rows whose score reaches their exit's
   threshold leave the batch: later steps run on fewer rows.

Training runs exactly the same steps with no thresholds (every row reaches every exit);
what it optimises is the configured objective (:mod:`gfvideo.models.objectives`,
:mod:`gfvideo.models.ppo`). This class builds the parts, runs the loop and dispatches.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..compute.exit_scores import ExitRule
from ..registry import MODELS
from .aggregator import build_aggregator
from .backbones import TSMBackbone, build_backbone
from .base import Recognizer
from .crop import ROUNDINGS, crop
from .episode import Episode, Step
from .objectives import build_objective
from .policy import Action, Observation, Policy, build_policy
from .schedule import FocusSchedule
from .tsm import ShiftState, select_shift_rows


class Glance(nn.Module):
    """Downsample every frame to ``size x size`` and run the glance backbone over all N.

    ``resize``: ``F.interpolate``'s ``mode``, ``align_corners`` and ``antialias`` (default
    bilinear, antialiased; GFNet's glance is ``dict(mode='bicubic', align_corners=True,
    antialias=False)``)."""

    def __init__(self, backbone: TSMBackbone, size: int, resize: dict | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.size = size
        self.resize = dict(mode='bilinear', align_corners=False, antialias=True)
        unknown = sorted(set(resize or {}) - set(self.resize))
        if unknown:
            raise ValueError(f'model.glance.resize: unknown keys {unknown}; choose from {sorted(self.resize)}')
        self.resize.update(resize or {})

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames`` ``[B, N, 3, H, W]`` -> maps ``[B, N, C, h, w]``, pooled ``[B, N, C']``."""
        b, n = frames.shape[:2]
        x = frames.flatten(0, 1)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), **self.resize)
        maps, pooled, _ = self.backbone(x, num_segments=n)
        return maps.view(b, n, *maps.shape[1:]), pooled.view(b, n, -1)


class Focus(nn.Module):
    """Cut the chosen patches and run the focus backbone on one step's looks.

    ``rounding``: how the hard crop rounds the patch corner (:mod:`gfvideo.models.crop`;
    ``'floor'`` is GFNet's)."""

    def __init__(self, backbone: TSMBackbone, patch: int, rounding: str = 'round') -> None:
        super().__init__()
        self.backbone = backbone
        self.patch = patch
        if rounding not in ROUNDINGS:
            raise ValueError(f'model.focus.rounding must be one of {ROUNDINGS}, got {rounding!r}')
        self.rounding = rounding

    def forward(self, frames: torch.Tensor, frame_ids: torch.Tensor, centers: torch.Tensor,
                shift_state: ShiftState | None = None, differentiable: bool = False,
                rows: torch.Tensor | None = None, return_maps: bool = False):
        """``frames`` ``[B, N, 3, H, W]``, ``frame_ids`` ``[R, K]``, ``centers`` ``[R, K, 2]``
        -> features ``[R, K, C]`` and the shift state for the next step (and, with
        ``return_maps``, the backbone's feature maps ``[R, K, C', h, w]`` third).

        ``rows`` ``[R]``: the clips of ``frames`` still running (default: all ``B``), so that
        rows leaving early never copy the full-resolution frames of those that stay."""
        n = frames.shape[1]
        b, k = frame_ids.shape
        if rows is None:
            rows = torch.arange(b, device=frames.device)
        flat_ids = (frame_ids + rows[:, None] * n).flatten()
        patches = crop(frames.flatten(0, 1), centers.flatten(0, 1), self.patch, differentiable,
                       index=flat_ids, rounding=self.rounding).contiguous()
        maps, pooled, shift_state = self.backbone(patches, num_segments=k, shift_state=shift_state)
        if return_maps:
            return pooled.view(b, k, -1), shift_state, maps.view(b, k, *maps.shape[1:])
        return pooled.view(b, k, -1), shift_state


@MODELS.register_module()
class GlanceFocusRecognizer(Recognizer):
    """Glance-and-focus recognizer with early exits: video clips, or images as 1-frame clips.

    Args:
        num_classes: classes.
        num_frames: frames per clip (N), all glanced at.
        input_size: side of the full-resolution frames the pipeline produces.
        glance: ``dict(backbone=name, size=px, pretrained=path, feature_stage=None, **backbone_kwargs)``;
            ``feature_stage=None`` picks the deepest stage whose map keeps at least ``min_cells``
            (default 4) cells a side; ``resize=dict(mode=, align_corners=, antialias=)`` the
            downsampling (:class:`Glance`).
        focus: ``dict(backbone=name, patch=px, pretrained=path, rounding='round', **backbone_kwargs)``
            (``rounding='floor'``: GFNet's patch corner, :mod:`gfvideo.models.crop`).
        policy: ``dict(type='learned'|'ppo'|'random'|'center'|<registered>, ...)``
            (``locator=`` is the old spelling of the same key).
        num_focus_frames, frames_per_step, num_steps, revisit: the focus schedule
            (:class:`gfvideo.models.schedule.FocusSchedule`).
        aggregator: ``dict(type='gru'|'mean'|<registered>, hidden=256)``.
        objective: ``dict(type='SupervisedExits'|'PPO'|<registered>, ...)``; by default
            PPO for an unfrozen ``'ppo'`` policy, else the supervised exits. The old keys
            ``loss_weights``, ``random_patch_loss`` and ``ppo`` still configure them.
        exit_thresholds: the exit rule of mmengine's test loop (None: no early exit): per-exit
            max-prob thresholds, or ``dict(thresholds=[...], score=..., head=...)``
            (:class:`~gfvideo.compute.exit_scores.ExitRule`); callers pass thresholds or a
            rule to :meth:`run` / :meth:`predict` directly.
        seed: seed of the model's own generator (random patches), saved in checkpoints.
        frozen: parts that don't train, among ``'glance'``, ``'focus'``, ``'aggregator'``,
            ``'policy'`` and ``'focus_head'``: no gradients, and eval mode (batch-norm
            statistics stay put) whatever mmengine's ``model.train()`` asks.
    """

    def __init__(self, num_classes: int, num_frames: int, input_size: int, glance: dict, focus: dict,
                 policy: dict | None = None, num_focus_frames: int | None = None,
                 frames_per_step: int | None = None, num_steps: int | None = None, revisit: bool = False,
                 aggregator: dict | None = None, objective: dict | None = None,
                 exit_thresholds: list[float] | dict | None = None, frozen: Sequence[str] = (), seed: int = 0,
                 locator: dict | None = None, loss_weights: dict | None = None, random_patch_loss: bool = False,
                 ppo: dict | None = None, data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(num_classes, num_frames, input_size, data_preprocessor, init_cfg)
        if locator is not None and policy is not None:
            raise ValueError('model.locator is the old name of model.policy: set one of them')
        policy = dict(policy or locator or dict(type='learned'))
        glance, focus = dict(glance), dict(focus)
        if num_frames == 1:  # one frame: the shift would only zero a quarter of the channels
            glance.setdefault('shift', False)
            focus.setdefault('shift', False)
        glance_size, patch = glance.pop('size'), focus.pop('patch')
        check_sizes(input_size, glance_size, patch)
        self.schedule = FocusSchedule.from_config(num_frames, num_focus_frames, frames_per_step, num_steps, revisit)

        resize, rounding = glance.pop('resize', None), focus.pop('rounding', 'round')
        self.glance = Glance(_build_glance_backbone(glance, glance_size), glance_size, resize)
        self.focus = Focus(build_backbone(focus.pop('backbone'), **focus), patch, rounding)
        gc, fc = self.glance.backbone.out_channels, self.focus.backbone.out_channels
        self.aggregator = build_aggregator(aggregator, gc, fc, num_classes, self.schedule.num_exits)
        self.generator = torch.Generator().manual_seed(seed)
        self.policy: Policy = build_policy(policy, glance_channels=self.glance.backbone.feature_channels,
                                           state_channels=self.aggregator.hidden,
                                           patch_fraction=patch / input_size, generator=self.generator)
        self.focus_head = nn.Linear(fc, num_classes)
        self.exit_thresholds = exit_thresholds
        # Checkpoints keep plain names when MMSeparateDistributedDataParallel wraps children,
        # and checkpoints from before the policy had its name (``locator.*``) still load.
        self._register_state_dict_hook(_drop_wrapper_prefix)
        self._register_load_state_dict_pre_hook(_add_wrapper_prefix, with_module=True)
        self.frozen = tuple(frozen)
        parts = self.parts()
        unknown = sorted(set(self.frozen) - set(parts))
        if unknown:
            raise ValueError(f'model.frozen={list(self.frozen)}: unknown parts {unknown}; choose from {sorted(parts)}')
        for name in self.frozen:
            parts[name].requires_grad_(False)
        self.objective = build_objective(objective, self, loss_weights=loss_weights,
                                         random_patch_loss=random_patch_loss, ppo=ppo)

    def upgrade_state_dict(self, state: dict, prefix: str = '') -> dict:
        """Checkpoints written before the policy had one name hold it as ``locator.*``."""
        old = f'{prefix}locator.'
        for key in [k for k in state if k.startswith(old)]:
            state[f'{prefix}policy.{key[len(old):]}'] = state.pop(key)
        return state

    def parts(self) -> dict[str, nn.Module]:
        """The trainable parts by the names ``frozen`` and the optimizer groups use."""
        return dict(glance=self.glance, focus=self.focus, aggregator=self.aggregator,
                    policy=self.policy, focus_head=self.focus_head)

    @property
    def policy_module(self) -> Policy:
        """The policy itself, also when a DDP wrapper holds it (MMSeparateDistributedDataParallel)."""
        return getattr(self.policy, 'module', self.policy)

    @property
    def patch_size(self) -> int:
        return self.focus.patch

    @property
    def num_steps(self) -> int:
        return self.schedule.num_steps

    @property
    def num_exits(self) -> int:
        return self.schedule.num_exits

    def train(self, mode: bool = True) -> 'GlanceFocusRecognizer':
        super().train(mode)
        for name in self.frozen:
            self.parts()[name].eval()
        return self

    # The generator (random patches) travels in the state dict, hence in every checkpoint.
    def get_extra_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)

    def run(self, frames: torch.Tensor, thresholds: list[float] | dict | ExitRule | None = None,
            policy: Policy | None = None) -> Episode:
        """Glance, then focus step by step; rows leave at the first exit whose score reaches its threshold.

        ``policy`` replaces the model's own for this run (e.g. random patches as a baseline)."""
        self.check_frames(frames)
        rule = self.check_thresholds(thresholds)
        b, n = frames.shape[:2]
        # Costs are counted (traced once) for evaluation; training steps leave them out.
        costs = [None] * self.num_exits if self.training else self.step_costs()
        rows = torch.arange(b, device=frames.device)
        maps, pooled = self.glance(frames)
        glance_maps, glance_pooled = maps, pooled
        state, logits = self.aggregator.init(pooled)
        steps = [Step(rows=rows, logits=logits, state=state, cost=costs[0])]
        exit_index = torch.full((b,), self.num_steps, dtype=torch.long, device=frames.device)
        final_logits = frames.new_zeros(b, self.num_classes)
        looks = torch.zeros(b, n, dtype=torch.long, device=frames.device)
        shift_state: ShiftState | None = None
        policy = policy or self.policy
        differentiable = self.training and self.policy_module.end_to_end and policy is self.policy
        # recurrent policies reading the previous step's maps (GFNet): the glance's before step 1
        reads_maps = getattr(policy, 'module', policy).reads_previous_maps  # DDP wraps a trained policy
        previous_maps, policy_state = (maps if reads_maps else None), None
        for t in range(1, self.num_exits):
            if rule is not None:
                leaving = rule.leaves(logits, t - 1)
                if leaving.any():
                    exit_index[rows[leaving]] = t - 1
                    final_logits[rows[leaving]] = logits[leaving].to(final_logits.dtype)
                    keep = (~leaving).nonzero().flatten()
                    if keep.numel() == 0:
                        break
                    rows, maps, pooled = rows[keep], maps[keep], pooled[keep]
                    state, looks = state[keep], looks[keep]
                    shift_state = select_shift_rows(shift_state, keep)
                    previous_maps = None if previous_maps is None else previous_maps[keep]
                    policy_state = None if policy_state is None else policy_state[keep]
            obs = Observation(glance_maps=maps, state=state, looks=looks, available=self.schedule.available(looks),
                              previous_maps=previous_maps, policy_state=policy_state)
            action = policy(obs, self.schedule.frames_at(t))
            focused = self.focus(frames, action.frames, action.centers, shift_state, differentiable, rows,
                                 return_maps=reads_maps)
            features, shift_state = focused[:2]
            previous_maps, policy_state = (focused[2] if reads_maps else None), action.policy_state
            if action.frame_weights is not None:  # straight-through frame choice (end to end)
                features = features * action.frame_weights[..., None].to(features.dtype)
            glance_sel = pooled.gather(1, action.frames[:, :, None].expand(-1, -1, pooled.shape[-1]))
            state, logits = self.aggregator.step(state, glance_sel, features)
            looks = looks.scatter_add(1, action.frames, torch.ones_like(action.frames))
            steps.append(Step(rows=rows, logits=logits, state=state, cost=costs[t], observation=obs,
                              action=action, features=features))
        else:
            final_logits[rows] = logits.to(final_logits.dtype)
        return Episode(glance_maps=glance_maps, glance_pooled=glance_pooled, steps=steps,
                       exit_index=exit_index, final_logits=final_logits)

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> dict[str, torch.Tensor]:
        return self.objective.loss(self, inputs, data_samples['labels'])

    def train_step(self, data: dict, optim_wrapper) -> dict[str, torch.Tensor]:
        """mmengine's training step, as the objective does it (a supervised step, or a PPO update)."""
        return self.objective.train_step(self, data, optim_wrapper)

    def count_step_costs(self) -> list[float]:
        from ..compute.costs import glance_focus_step_costs
        return glance_focus_step_costs(self)


def _wrapped_children(model: nn.Module) -> list[str]:
    return [name for name, child in model.named_children() if isinstance(child, nn.parallel.DistributedDataParallel)]


def _drop_wrapper_prefix(model: nn.Module, state_dict: dict, prefix: str, local_metadata) -> None:
    """``policy.module.score.weight`` -> ``policy.score.weight`` for DDP-wrapped children."""
    for name in _wrapped_children(model):
        wrapped = f'{prefix}{name}.module.'
        for key in [k for k in state_dict if k.startswith(wrapped)]:
            state_dict[f'{prefix}{name}.{key[len(wrapped):]}'] = state_dict.pop(key)


def _add_wrapper_prefix(model: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """The reverse, when loading plain names into a model whose children are DDP-wrapped
    (after renaming a pre-rename checkpoint's ``locator.*`` keys)."""
    model.upgrade_state_dict(state_dict, prefix)
    for name in _wrapped_children(model):
        plain, wrapped = f'{prefix}{name}.', f'{prefix}{name}.module.'
        for key in [k for k in state_dict if k.startswith(plain) and not k.startswith(wrapped)]:
            state_dict[wrapped + key[len(plain):]] = state_dict.pop(key)


def check_sizes(input_size: int, glance_size: int, patch: int) -> None:
    """Refuse sizes that can't work, naming the config key (ValueError).

    Shared by the recognizer and config validation (``gfvideo.engine.validation``); the
    focus schedule checks its own keys (:meth:`FocusSchedule.from_config`).
    """
    if glance_size > input_size:
        raise ValueError(f'model.glance.size={glance_size} is larger than model.input_size={input_size}')
    if patch >= input_size:
        raise ValueError(f'model.focus.patch={patch} must be smaller than model.input_size={input_size}')


def _build_glance_backbone(cfg: dict, size: int) -> TSMBackbone:
    """Build the glance backbone; by default its feature map is the deepest stage with >= min_cells (4) a side."""
    name, stage = cfg.pop('backbone'), cfg.pop('feature_stage', None)
    cells = cfg.pop('min_cells', 4)  # GFNet's policy reads the last stage's map whole (3x3 at 96 px): 1
    backbone = build_backbone(name, **cfg)
    if stage is None:
        stage = max([s for s in (1, 2, 3, 4) if backbone.stage_size(size, s) >= cells], default=1)
    if backbone.stage_size(size, stage) < cells:
        raise ValueError(f'glance feature map of stage {stage} at {size}px is smaller than {cells}x{cells}')
    backbone.feature_stage = stage
    return backbone
