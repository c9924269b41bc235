"""The record of one run: what each step looked at, for which clips, what it gave, what it cost.

A recognizer's ``run`` returns an :class:`Episode`: ``steps[0]`` is the glance (exit 0),
``steps[t]`` focus step ``t`` (exit ``t``). Every consumer reads this one record: the
training objectives, PPO rollouts, prediction with early exit, the compute report and
``tools/infer.py``. A step holds only the rows (clips of the batch) that ran it; a row
that leaves at exit ``e`` appears in ``steps[0..e]`` and its cost is the sum of those
steps' costs (``exit_costs`` on the recognizer).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .policy import Action, Observation


@dataclass
class Step:
    """One step of an episode, for the rows that ran it."""
    rows: torch.Tensor                        # [R] batch rows that ran this step (and reached its exit)
    logits: torch.Tensor                      # [R, classes] this exit's logits
    state: torch.Tensor                       # [R, H] aggregator state after the step
    cost: float | None                        # GFLOPs per row of this step (None in training: not counted)
    observation: Observation | None = None    # what the policy read (focus steps)
    action: Action | None = None              # frames and patch centres chosen (focus steps)
    features: torch.Tensor | None = None      # [R, K, C] the focus network's features (focus steps)


@dataclass
class Episode:
    """Glance features, one :class:`Step` per exit reached, and each row's exit."""
    glance_maps: torch.Tensor        # [B, N, C, h, w]
    glance_pooled: torch.Tensor      # [B, N, C']
    steps: list[Step]
    exit_index: torch.Tensor         # [B] exit each row took
    final_logits: torch.Tensor       # [B, classes] logits at that exit

    @property
    def focus_steps(self) -> list[Step]:
        return self.steps[1:]

    @property
    def logits(self) -> list[torch.Tensor]:
        """Logits per exit, of the rows that reached it."""
        return [s.logits for s in self.steps]

    @property
    def actions(self) -> list[Action]:
        return [s.action for s in self.focus_steps]
