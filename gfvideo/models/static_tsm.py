"""The static TSM recognizer: the baseline every glance-and-focus number is compared with.

Backbone over all N full-resolution frames, dropout, a linear head per frame, and the
average of the frames' logits (TSN's average consensus), as in TSM-official and mmaction2.
Its episode has one step (the whole model, exit 0).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS
from .backbones import build_backbone
from .base import Recognizer
from .episode import Episode, Step


@MODELS.register_module()
class StaticTSM(Recognizer):
    """Args: ``backbone=dict(backbone=name, pretrained=path, **backbone_kwargs)``, ``dropout``."""

    def __init__(self, num_classes: int, num_frames: int, input_size: int, backbone: dict,
                 dropout: float = 0.5, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(num_classes, num_frames, input_size, data_preprocessor, init_cfg)
        backbone = dict(backbone)
        self.backbone = build_backbone(backbone.pop('backbone'), **backbone)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.backbone.out_channels, num_classes)

    @property
    def num_exits(self) -> int:
        return 1

    def logits(self, frames: torch.Tensor) -> torch.Tensor:
        """Clips ``[B, N, 3, S, S]`` -> logits ``[B, classes]`` (the frames' average)."""
        b, n = frames.shape[:2]
        _, pooled, _ = self.backbone(frames.flatten(0, 1), num_segments=n)
        return self.fc(self.dropout(pooled)).view(b, n, -1).mean(1)

    def run(self, frames: torch.Tensor, thresholds: list[float] | None = None) -> Episode:
        self.check_frames(frames)
        self.check_thresholds(thresholds)
        logits = self.logits(frames)
        rows = torch.arange(frames.shape[0], device=frames.device)
        step = Step(rows=rows, logits=logits, state=logits, cost=self.step_costs()[0])
        return Episode(glance_maps=None, glance_pooled=None, steps=[step],
                       exit_index=torch.zeros_like(rows), final_logits=logits)

    def forward(self, inputs: torch.Tensor, data_samples: dict | None = None, mode: str = 'tensor'):
        if mode == 'tensor':  # the plain network (FLOP counting, ONNX export)
            return self.logits(inputs)
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> dict[str, torch.Tensor]:
        self.check_frames(inputs)
        logits, labels = self.logits(inputs), data_samples['labels']
        return dict(loss_cls=F.cross_entropy(logits, labels), top1=(logits.argmax(-1) == labels).float().mean().detach())

    def count_step_costs(self) -> list[float]:
        from ..compute.costs import static_tsm_cost
        return [static_tsm_cost(self)]

    def gflops(self) -> float:
        """GFLOPs per clip (N frames at ``input_size``)."""
        return self.exit_costs()[0]
