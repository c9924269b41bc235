"""PPO for the glance-and-focus policy (GFNet's actor-critic), as plain functions.

One training batch is one set of episodes: the glance, then ``T`` focus steps whose
actions the policy samples. The reward of step ``t`` is the gain in the true class's
softmax probability it brought, ``p_t - p_{t-1}`` (``p_0`` from the glance exit);
optionally minus the gain of an episode with random patches (AdaFocus), so the policy
is paid only for beating chance. Returns are discounted with ``gamma``; the advantage is the
return minus the critic's value, normalised over the batch. The loss is GFNet's:

    -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) + value_coef * (V - R)^2 - entropy_coef * H
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PPOConfig:
    """GFNet's PPO settings (REFERENCE.md §3) as defaults."""
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
