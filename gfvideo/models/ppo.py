"""PPO for the glance-and-focus policy (GFNet's actor-critic): the functions and the objective.

One training batch is one set of episodes: the glance, then ``T`` focus steps whose
actions the policy samples. The reward of step ``t`` is the gain in the true class's
softmax probability it brought, ``p_t - p_{t-1}`` (``p_0`` from the glance exit);
optionally minus the gain of an episode with random patches (AdaFocus), so the policy
is paid only for beating chance. Returns are discounted with ``gamma``; the advantage is
the return minus the critic's value, normalised over the batch. The loss is the clipped
PPO objective with GFNet's coefficients:

    -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) + value_coef * (V - R)^2 - entropy_coef * H

One difference from GFNet-Pytorch: it normalises the rewards over its memory of episodes
and uses the critic's baseline without normalising advantages; gfvideo normalises the
advantages instead (docs/references.md#gfnet-glance-focus-and-its-ppo).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from mmengine.optim import OptimWrapperDict

from ..registry import OBJECTIVES
from .objectives import Objective
from .policy import Action, Observation, RandomPolicy


@dataclass
class PPOConfig:
    """GFNet's PPO settings (docs/references.md#gfnet-glance-focus-and-its-ppo) as defaults."""
    gamma: float = 0.7
    clip: float = 0.2
    epochs: int = 1
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    random_baseline: bool = False   # reward relative to a random patch (AdaFocus)


def step_rewards(true_probs: torch.Tensor, baseline_probs: torch.Tensor | None = None) -> torch.Tensor:
    """Rewards ``[B, T]`` from the true-class probability after each exit ``[B, T + 1]``.

    ``baseline_probs`` ``[B, T + 1]``: the same from an episode with random patches; the
    reward is then the gain beyond the gain random patches brought."""
    gain = true_probs[:, 1:] - true_probs[:, :-1]
    if baseline_probs is not None:
        gain = gain - (baseline_probs[:, 1:] - baseline_probs[:, :-1])
    return gain


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``R_t = r_t + gamma * R_{t+1}`` over the steps of ``rewards`` ``[B, T]``."""
    returns = torch.zeros_like(rewards)
    running = rewards.new_zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns


def normalised_advantages(returns: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    adv = returns - values
    return (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8) if adv.numel() > 1 else adv


def ppo_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
             values: torch.Tensor, returns: torch.Tensor, entropy: torch.Tensor,
             cfg: PPOConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped PPO objective over all (episode, step) pairs, and its statistics for the log."""
    ratio = (log_prob - old_log_prob).exp()
    clipped = ratio.clamp(1 - cfg.clip, 1 + cfg.clip)
    policy_loss = -torch.min(ratio * advantages, clipped * advantages).mean()
    value_loss = (values - returns).pow(2).mean()
    entropy_mean = entropy.mean()
    loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy_mean
    with torch.no_grad():
        stats = dict(policy_loss=policy_loss.detach(), value_loss=value_loss.detach(),
                     entropy=entropy_mean.detach(),
                     clip_fraction=((ratio - 1).abs() > cfg.clip).float().mean(),
                     approx_kl=((ratio - 1) - (log_prob - old_log_prob)).mean())
    return loss, stats


def true_class_probs(logits: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Softmax probability of the true class at every exit: ``[B, E]``."""
    return torch.stack([l.float().softmax(-1).gather(1, labels[:, None]).squeeze(1) for l in logits], 1)


@OBJECTIVES.register_module(name='PPO')
class PPOObjective(Objective):
    """GFNet's stage 2: episodes sampled with the current policy, then PPO updates of the policy alone.

    Keys: the :class:`PPOConfig` fields. The model's other parts must be frozen. The
    policy's optimizer is ``optim_wrapper['policy']`` of an ``OptimWrapperDict`` (see
    ``gfvideo.engine.optim.GlanceFocusOptimWrapperConstructor``) or a plain wrapper.
    """

    def __init__(self, **cfg) -> None:
        self.cfg = PPOConfig(**cfg)

    def check(self, model) -> None:
        if not model.policy_module.actor_critic:
            raise ValueError(f"model.objective PPO trains an actor-critic policy ('ppo', 'gfnet'), "
                             f'not {type(model.policy_module).__name__}')
        if 'policy' in model.frozen:
            raise ValueError("model.objective PPO trains the policy: remove 'policy' from model.frozen")
        trainable = sorted(n for n in ('glance', 'focus', 'aggregator') if n not in model.frozen)
        if trainable:
            raise ValueError(f'a PPO policy trains alone (GFNet stage 2): add {trainable} to model.frozen, '
                             f'or freeze the policy (model.frozen=[\'policy\']) to train the rest with it fixed')
        if not model.schedule.equal_steps:
            raise ValueError(f'PPO re-scores every step in one batch: model.frames_per_step='
                             f'{model.schedule.frames_per_step} must divide model.num_focus_frames')

    def loss(self, model, inputs, labels):
        raise ValueError('a PPO objective trains through train_step (an update per batch), not mode="loss"')

    def train_step(self, model, data: dict, optim_wrapper) -> dict[str, torch.Tensor]:
        wrapper = optim_wrapper['policy'] if isinstance(optim_wrapper, OptimWrapperDict) else optim_wrapper
        data = model.data_preprocessor(data, True)
        return self.update(model, data['inputs'], data['data_samples']['labels'], wrapper)

    def update(self, model, inputs: torch.Tensor, labels: torch.Tensor, wrapper) -> dict[str, torch.Tensor]:
        """Sample episodes with the current policy, then ``epochs`` PPO updates."""
        cfg, policy = self.cfg, model.policy_module
        with torch.no_grad(), wrapper.optim_context(model):
            episode = model.run(inputs)
            probs = true_class_probs(episode.logits, labels)
            baseline = None
            if cfg.random_baseline:
                random = RandomPolicy(frames=policy.frames if policy.frames != 'learned' else 'random',
                                      generator=model.generator)
                baseline = true_class_probs(model.run(inputs, policy=random).logits, labels)
            rewards = step_rewards(probs, baseline)                                 # [B, T]
            returns = discounted_returns(rewards, cfg.gamma)
            old_log_prob = torch.stack([a.log_prob for a in episode.actions], 1).float()
            advantages = normalised_advantages(returns, torch.stack([a.value for a in episode.actions], 1).float())
        # every step's policy inputs in one batch: one forward (and one DDP reduction) per epoch
        observations = Observation.cat([s.observation for s in episode.focus_steps])
        taken = Action.cat(episode.actions)
        flat = lambda x: x.t().reshape(-1)  # [B, T] -> step-major [T * B]
        for _ in range(cfg.epochs):
            with wrapper.optim_context(model):
                new = model.policy(observations, model.schedule.frames_per_step, action=taken)
                loss, stats = ppo_loss(new.log_prob.float(), flat(old_log_prob), flat(advantages),
                                       new.value.float(), flat(returns), new.entropy.float(), cfg)
            wrapper.update_params(loss)
        return dict(loss=loss.detach(), reward=rewards.sum(1).mean(), **stats,
                    top1_last=(episode.logits[-1].argmax(-1) == labels).float().mean())
