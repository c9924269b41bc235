"""Fusing glance and focus features into a prediction after every step (the exit points).

A GRU cell carries the clip's state. Exit 0 sees the glance alone (all N frames,
averaged); each focus step feeds the chosen frames' glance and focus features, fused per
frame and averaged over the step's frames, and gives the next exit's logits.
"""
from __future__ import annotations

import torch
from torch import nn

from ..registry import AGGREGATORS


@AGGREGATORS.register_module(name='gru')
class GRUAggregator(nn.Module):
    """``init(glance) -> (state, logits_0)``; ``step(state, glance_sel, focus) -> (state, logits_t)``."""

    def __init__(self, glance_channels: int, focus_channels: int, num_classes: int, num_exits: int,
                 hidden: int = 256) -> None:
        super().__init__()
        self.hidden = hidden
        self.glance_in = nn.Linear(glance_channels, hidden)
        self.focus_in = nn.Linear(glance_channels + focus_channels, hidden)
        self.gru = nn.GRUCell(hidden, hidden)
        self.head = nn.Linear(hidden, num_classes)

    def init(self, glance_pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``glance_pooled`` ``[B, N, Cg]`` -> state ``[B, H]``, logits ``[B, classes]``."""
        state = self.gru(torch.relu(self.glance_in(glance_pooled.mean(1))))
        return state, self.head(state)

    def step(self, state: torch.Tensor, glance_sel: torch.Tensor,
             focus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``glance_sel`` ``[B, K, Cg]`` and ``focus`` ``[B, K, Cf]`` are the step's frames."""
        x = torch.relu(self.focus_in(torch.cat([glance_sel, focus], dim=-1))).mean(1)
        state = self.gru(x, state)
        return state, self.head(state)


@AGGREGATORS.register_module(name='mean')
class MeanAggregator(nn.Module):
    """Running mean of per-frame fused features, then a linear head (AdaFocus-style average).

    Same interface as :class:`GRUAggregator`; the state is ``[B, H + 1]``: the running sum
    of the fused features and the number of frames in it. Order-free and quick to train.
    """

    def __init__(self, glance_channels: int, focus_channels: int, num_classes: int, num_exits: int,
                 hidden: int = 256) -> None:
        super().__init__()
        self.hidden = hidden + 1
        self.glance_in = nn.Linear(glance_channels, hidden)
        self.focus_in = nn.Linear(glance_channels + focus_channels, hidden)
        self.head = nn.Linear(hidden, num_classes)

    def _predict(self, state: torch.Tensor) -> torch.Tensor:
        return self.head(state[:, :-1] / state[:, -1:])

    def init(self, glance_pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.relu(self.glance_in(glance_pooled.mean(1)))
        state = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)
        return state, self._predict(state)

    def step(self, state: torch.Tensor, glance_sel: torch.Tensor,
             focus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.relu(self.focus_in(torch.cat([glance_sel, focus], dim=-1)))
        total = torch.cat([x.sum(1), x.new_full((x.shape[0], 1), x.shape[1])], dim=1)
        state = state + total
        return state, self._predict(state)


def build_aggregator(cfg: dict | None, glance_channels: int, focus_channels: int,
                     num_classes: int, num_exits: int) -> nn.Module:
    """``dict(type=name, hidden=...)`` from the ``AGGREGATORS`` registry (``'gru'`` by default).

    Every aggregator takes ``glance_channels``, ``focus_channels``, ``num_classes`` and
    ``num_exits`` (the glance's included: a state that keeps every step's features is sized
    by it) and has ``hidden`` (its state width), ``init(glance_pooled)`` and
    ``step(state, glance_sel, focus)``.
    """
    cfg = dict(cfg or {})
    cfg.setdefault('type', 'gru')
    if AGGREGATORS.get(cfg['type']) is None:
        raise KeyError(f'unknown aggregator type {cfg["type"]!r}; choose from {sorted(AGGREGATORS.module_dict)}')
    return AGGREGATORS.build(cfg, default_args=dict(glance_channels=glance_channels, focus_channels=focus_channels,
                                                    num_classes=num_classes, num_exits=num_exits))
