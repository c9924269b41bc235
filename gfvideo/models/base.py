"""The interface every recognizer implements, so callers never ask which model they hold.

A :class:`Recognizer` runs clips as an :class:`~gfvideo.models.episode.Episode` (one step
per exit; a static model has one), knows its exits' costs, and predicts with thresholds
passed as an argument: an :class:`~gfvideo.compute.exit_scores.ExitRule` (thresholds on a
score), or a plain list of max-softmax-probability thresholds. mmengine's loops reach it
through ``forward(mode=...)``; the test loop's rule is the config's ``model.exit_thresholds``
(a list, or ``dict(thresholds=[...], score=..., head=...)``).
"""
from __future__ import annotations

import itertools

import torch
from mmengine.model import BaseModel

from ..compute.exit_scores import ExitRule
from .episode import Episode
from .results import clip_results, num_views, split_views


class Recognizer(BaseModel):
    """Base of :class:`GlanceFocusRecognizer` and :class:`StaticTSM`."""

    num_classes: int
    num_frames: int
    input_size: int
    exit_thresholds: list[float] | dict | ExitRule | None = None

    def __init__(self, num_classes: int, num_frames: int, input_size: int,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='gfvideo.VideoDataPreprocessor'),
                         init_cfg=init_cfg)
        self.num_classes, self.num_frames, self.input_size = num_classes, num_frames, input_size
        self._step_costs: list[float] | None = None

    # -- what subclasses provide ---------------------------------------------------------
    @property
    def num_exits(self) -> int:
        raise NotImplementedError

    def run(self, frames: torch.Tensor, thresholds: list[float] | ExitRule | None = None) -> Episode:
        """Clips ``[B, N, 3, S, S]`` -> the episode; rows leave at the first exit whose score reaches its threshold."""
        raise NotImplementedError

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def count_step_costs(self) -> list[float]:
        """GFLOPs per clip of each step (exit 0 first), counted by tracing (see gfvideo.compute)."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------
    def step_costs(self) -> list[float]:
        """GFLOPs per clip of each step, counted once and cached (before any fusion)."""
        if self._step_costs is None:
            self._step_costs = self.count_step_costs()
        return self._step_costs

    def exit_costs(self) -> list[float]:
        """Cumulative GFLOPs of a clip that leaves at each exit."""
        return list(itertools.accumulate(self.step_costs()))

    def upgrade_state_dict(self, state: dict, prefix: str = '') -> dict:
        """Rename, in place, keys of checkpoints written by earlier versions (none here); returns ``state``.

        The model's load hook and checkpoint checks (``gfvideo.engine.resume``) both use it."""
        return state

    def check_frames(self, frames: torch.Tensor) -> None:
        """Refuse clips that are not ``[B, num_frames, 3, input_size, input_size]`` (one line, the key named)."""
        if frames.dim() != 5 or frames.shape[1] != self.num_frames:
            raise ValueError(f'clips of model.num_frames={self.num_frames} frames expected, got shape '
                             f'{list(frames.shape)} (multi-view clips go through predict)')
        if tuple(frames.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(f'frames of {frames.shape[-1]}x{frames.shape[-2]} pixels, but model.input_size='
                             f'{self.input_size}: resize and crop them to {self.input_size}x{self.input_size} '
                             f'(the test pipeline\'s Resize and CenterCrop)')

    def check_thresholds(self, thresholds: list[float] | dict | ExitRule | None) -> ExitRule | None:
        """The exit rule ``thresholds`` stands for (a list: max-prob thresholds), one threshold per exit."""
        rule = ExitRule.coerce(thresholds)
        if rule is not None and len(rule.thresholds) != self.num_exits:
            raise ValueError(f'{len(rule.thresholds)} exit thresholds for a model with {self.num_exits} exits')
        return rule

    def forward(self, inputs: torch.Tensor, data_samples: dict | None = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples, self.exit_thresholds)
        return self.run(inputs).final_logits

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: dict | None = None,
                thresholds: list[float] | dict | ExitRule | None = None) -> list[dict]:
        """Per-clip results (scores, exit, confidences, looks, GFLOPs) with early exit at ``thresholds``.

        Multi-view clips (``data_samples['num_views']``) run view by view (see ``results``)."""
        thresholds = self.check_thresholds(thresholds)
        views = num_views(data_samples)
        inputs = split_views(inputs, self.num_frames, views)
        episode = self.run(inputs, thresholds)
        return clip_results(episode, self.exit_costs(), data_samples, views, tuple(inputs.shape[-2:]),
                            self.patch_size)

    patch_size: int | None = None   # side of the focus patches (None: no focus steps)
