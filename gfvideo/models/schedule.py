"""The focus schedule: how many focus steps, how many frames each, and whether frames may be revisited.

One schedule expresses every member of the glance-and-focus family by config alone
(README, "The family"):

==============================  ===================================================  =========
member                          config keys                                          revisits
==============================  ===================================================  =========
AdaFocus / AdaFocusV2           ``frames_per_step=N`` (one step) or ``K`` (chunks)   no
Uni-AdaFocus                    ``policy.frames='learned'``, ``num_focus_frames=N'`` no
GFNet-style focus on video      ``revisit=True, num_steps=T``, ``frames_per_step``   yes
GFNet on images                 ``num_frames=1, revisit=True, num_steps=T``          yes
==============================  ===================================================  =========

Without revisits, ``num_focus_frames`` frames are focused once each, ``frames_per_step``
at a time (the last step takes what is left, so steps may differ in size and cost). With
revisits, each of ``num_steps`` steps looks at ``frames_per_step`` frames, which may have
been looked at before (a new patch, placed from the state after the earlier steps).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FocusSchedule:
    num_frames: int            # N, frames per clip (all glanced at)
    frames_per_step: int       # K, frames a step looks at (the last step may take fewer)
    num_steps: int             # T, focus steps (exits: T + 1)
    revisit: bool = False      # frames may be focused again at later steps

    @classmethod
    def from_config(cls, num_frames: int, num_focus_frames: int | None = None, frames_per_step: int | None = None,
                    num_steps: int | None = None, revisit: bool = False) -> 'FocusSchedule':
        """Resolve the model config's keys; a ValueError names the key that can't work."""
        if revisit:
            if num_focus_frames is not None:
                raise ValueError('model.num_focus_frames is for schedules without revisits; with model.revisit=True '
                                 'set model.num_steps and model.frames_per_step')
            k = frames_per_step or num_frames
            if not 0 < k <= num_frames:
                raise ValueError(f'model.frames_per_step={k} must be in 1..model.num_frames={num_frames}')
            if not num_steps or num_steps < 1:
                raise ValueError(f'model.revisit=True needs model.num_steps >= 1, got {num_steps}')
            return cls(num_frames, k, int(num_steps), True)
        focus = num_focus_frames or num_frames
        if not 0 < focus <= num_frames:
            raise ValueError(f'model.num_focus_frames={focus} must be in 1..model.num_frames={num_frames} '
                             f'(set model.revisit=True to look at frames again)')
        k = frames_per_step or focus
        if not 0 < k <= focus:
            raise ValueError(f'model.frames_per_step={k} gives no focus step (model.num_focus_frames={focus})')
        steps = -(-focus // k)
        if num_steps is not None and num_steps != steps:
            raise ValueError(f'model.num_steps={num_steps}, but model.num_focus_frames={focus} in steps of '
                             f'model.frames_per_step={k} make {steps}')
        return cls(num_frames, k, steps, False, _last=focus - (steps - 1) * k)

    _last: int | None = None   # frames of the last step without revisits (what is left)

    @property
    def num_exits(self) -> int:
        return self.num_steps + 1

    @property
    def focus_frames(self) -> int:
        """Distinct frames the fixed frame order looks at: the frames a random-patch branch covers."""
        return min(self.num_frames, sum(self.frames_at(t) for t in range(1, self.num_steps + 1)))

    @property
    def equal_steps(self) -> bool:
        return self.frames_at(self.num_steps) == self.frames_per_step

    def frames_at(self, step: int) -> int:
        """Frames looked at by focus step ``step`` (1-based)."""
        if not 1 <= step <= self.num_steps:
            raise IndexError(f'focus step {step} of {self.num_steps}')
        if step == self.num_steps and self._last is not None:
            return self._last
        return self.frames_per_step

    def available(self, looks: torch.Tensor) -> torch.Tensor:
        """Frames ``[B, N]`` the next step may pick, given each frame's look count ``[B, N]``."""
        return torch.ones_like(looks, dtype=torch.bool) if self.revisit else looks == 0
