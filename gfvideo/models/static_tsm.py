"""The static TSM recognizer: the baseline every glance-and-focus number is compared with.

Backbone over all N full-resolution frames, dropout, a linear head per frame, and the
average of the frames' logits (TSN's average consensus), as in TSM-official and mmaction2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from ..registry import MODELS
from .backbones import build_backbone
from .results import clip_result, merge_views, split_views


@MODELS.register_module()
class StaticTSM(BaseModel):
    """Args: ``backbone=dict(backbone=name, pretrained=path, **backbone_kwargs)``, ``dropout``."""

    def __init__(self, num_classes: int, num_frames: int, input_size: int, backbone: dict,
                 dropout: float = 0.5, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='gfvideo.VideoDataPreprocessor'),
                         init_cfg=init_cfg)
        backbone = dict(backbone)
        self.num_classes, self.num_frames, self.input_size = num_classes, num_frames, input_size
        self.backbone = build_backbone(backbone.pop('backbone'), **backbone)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.backbone.out_channels, num_classes)
        self._gflops: float | None = None

    def forward(self, inputs: torch.Tensor, data_samples: dict | None = None, mode: str = 'tensor'):
        inputs, views = split_views(inputs, self.num_frames)
        if views > 1 and mode != 'predict':
            raise ValueError(f'{views}-view clips are for testing (mode="predict"), not mode={mode!r}')
        b, n = inputs.shape[:2]
        _, pooled = self.backbone(inputs.flatten(0, 1), num_segments=n)
        logits = self.fc(self.dropout(pooled)).view(b, n, -1).mean(1)
        if mode == 'loss':
            labels = data_samples['labels']
            return dict(loss_cls=F.cross_entropy(logits, labels),
                        top1=(logits.argmax(-1) == labels).float().mean().detach())
        if mode == 'predict':
            gflops = self.gflops()
            return merge_views([clip_result(data_samples, i // views, logits[i], 0, gflops, confidences=[
                float(logits[i].detach().float().softmax(-1).max())], looks=[]) for i in range(b)], views)
        return logits

    def gflops(self) -> float:
        """GFLOPs per clip (N frames at ``input_size``), counted once."""
        if self._gflops is None:
            from ..compute.costs import static_tsm_cost
            self._gflops = static_tsm_cost(self)
        return self._gflops
