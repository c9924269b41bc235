"""Training objectives: how a glance-and-focus model's parts learn from a batch, chosen by config.

An objective is built from ``model.objective=dict(type=...)`` (the ``OBJECTIVES`` registry)
and has one interface: ``loss(model, inputs, labels)`` (mmengine's ``mode='loss'``) and
``train_step(model, data, optim_wrapper)``. The model builds its parts and dispatches to
it; every objective reads the model's :class:`~gfvideo.models.episode.Episode`.

- :class:`SupervisedExits`: cross-entropy at every exit, plus a focus-only classifier
  (AdaFocusV2's auxiliary loss) on the policy's patches or on random ones, and the
  policy's regression onto random patches' outcomes.
- ``PPO`` (:class:`gfvideo.models.ppo.PPOObjective`): GFNet's stage 2, the policy alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from ..registry import OBJECTIVES
from .episode import Episode
from .policy import LearnedPolicy, PPOPolicy


class Objective:
    """The interface (and the plain supervised ``train_step``)."""

    def check(self, model) -> None:
        """Refuse a model this objective can't train (ValueError naming the config key)."""

    def loss(self, model, inputs: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def train_step(self, model, data: dict, optim_wrapper) -> dict[str, torch.Tensor]:
        return BaseModel.train_step(model, data, optim_wrapper)


@OBJECTIVES.register_module()
class SupervisedExits(Objective):
    """Mean cross-entropy over every exit (``loss_exits``) and a focus-only classifier (``loss_focus``).

    Args:
        weights: ``dict(exits=1.0, focus=1.0, policy=0.0)`` (``locator`` is the old name of ``policy``).
        focus_branch: what the focus-only classifier reads: ``'policy'``, the mean feature
            of the policy's patches; or ``'random'``, AdaFocusV2's random-patch branch (a
            second focus pass on random patches, one per frame of the schedule), which also
            trains a :class:`LearnedPolicy`'s cell scores when ``weights['policy'] > 0``.
    """

    def __init__(self, weights: dict | None = None, focus_branch: str = 'policy') -> None:
        weights = dict(weights or {})
        if 'locator' in weights:
            weights['policy'] = weights.pop('locator')
        unknown = sorted(set(weights) - {'exits', 'focus', 'policy'})
        if unknown:
            raise ValueError(f'model.objective.weights: unknown keys {unknown}; choose from exits, focus, policy')
        if focus_branch not in ('policy', 'random'):
            raise ValueError(f"model.objective.focus_branch must be 'policy' or 'random', got {focus_branch!r}")
        self.weights = {'exits': 1.0, 'focus': 1.0, 'policy': 0.0, **weights}
        self.focus_branch = focus_branch

    def loss(self, model, inputs, labels):
        episode = model.run(inputs)
        exit_losses = [F.cross_entropy(logits, labels) for logits in episode.logits]
        losses = {'loss_exits': self.weights['exits'] * torch.stack(exit_losses).mean()}
        if self.focus_branch == 'random':
            losses.update(self.random_patch_losses(model, inputs, labels, episode))
        else:
            focus_mean = torch.cat([s.features for s in episode.focus_steps], dim=1).mean(1)
            losses['loss_focus'] = self.weights['focus'] * F.cross_entropy(model.focus_head(focus_mean), labels)
        with torch.no_grad():
            losses['top1_glance'] = (episode.logits[0].argmax(-1) == labels).float().mean()
            losses['top1_last'] = (episode.logits[-1].argmax(-1) == labels).float().mean()
        return losses

    def random_patch_losses(self, model, frames: torch.Tensor, labels: torch.Tensor, episode: Episode) -> dict:
        """AdaFocusV2's random-patch branch, per frame; it also teaches a learned policy where to look.

        Random patches on the schedule's frames go through the focus network and the
        focus-only classifier (on their mean feature), so the focus network learns to
        recognise what it sees wherever the patch lands (``loss_focus``). With
        ``weights['policy'] > 0``, a :class:`LearnedPolicy`'s score for the glance cell under
        each random patch regresses onto the negative cross-entropy of the aggregator's
        prediction after one focus step on that patch alone, from the glance's state
        (``loss_policy``): high where looking helped the model itself. (A focus-only head's
        judgement of the single patch can disagree with the model's: on the demo it taught
        one policy to avoid the object.)
        """
        b, k = frames.shape[0], model.schedule.focus_frames
        ids = torch.arange(k, device=frames.device).expand(b, k)
        centers = torch.rand((b, k, 2), generator=model.generator).to(frames)
        features, _ = model.focus(frames, ids, centers)                            # [B, K, C]
        losses = {'loss_focus': self.weights['focus'] * F.cross_entropy(model.focus_head(features.mean(1)), labels)}
        policy = model.policy_module
        if isinstance(policy, LearnedPolicy) and self.weights['policy'] > 0:
            init_state = episode.steps[0].state.detach()
            with torch.no_grad():  # how well the model tells the class after that one patch
                state = init_state.repeat_interleave(k, 0)                           # [B*K, H]
                glance = episode.glance_pooled.detach().gather(
                    1, ids[..., None].expand(-1, -1, episode.glance_pooled.shape[-1]))  # [B, K, C']
                _, logits = model.aggregator.step(state, glance.reshape(b * k, 1, -1),
                                                  features.detach().reshape(b * k, 1, -1))
                ce = F.cross_entropy(logits, labels.repeat_interleave(k), reduction='none').view(b, k)
            maps = episode.glance_maps
            scores = policy.cell_scores(maps, init_state, ids)                       # [B, K, h*w]
            cells = policy.cells_of(centers, maps.shape[-2:])
            picked = scores.gather(-1, cells[..., None]).squeeze(-1)
            losses['loss_policy'] = self.weights['policy'] * F.mse_loss(picked, -ce)
        return losses


def build_objective(cfg: dict | None, model, *, loss_weights: dict | None = None, random_patch_loss: bool = False,
                    ppo: dict | None = None) -> Objective:
    """Build ``model.objective``; without one, from the old keys (``loss_weights``,
    ``random_patch_loss``, ``ppo``): PPO for an unfrozen ``'ppo'`` policy, else supervised."""
    legacy = loss_weights is not None or random_patch_loss or ppo is not None
    if cfg is not None and legacy:
        raise ValueError('model.objective replaces model.loss_weights / random_patch_loss / ppo: set one or the other')
    if cfg is None:
        if isinstance(model.policy_module, PPOPolicy) and 'policy' not in model.frozen:
            cfg = dict(type='PPO', **(ppo or {}))
        else:
            cfg = dict(type='SupervisedExits', weights=loss_weights,
                       focus_branch='random' if random_patch_loss else 'policy')
    cfg = dict(cfg)
    if OBJECTIVES.get(cfg.get('type')) is None:
        raise KeyError(f'unknown objective type {cfg.get("type")!r}; registered: {", ".join(sorted(OBJECTIVES.module_dict))}')
    objective = OBJECTIVES.build(cfg)
    objective.check(model)
    return objective
