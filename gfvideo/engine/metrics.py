"""Clip-level evaluation: accuracy beside what each clip cost."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from ..registry import METRICS


@METRICS.register_module()
class ClipMetric(BaseMetric):
    """Top-1 / top-5 accuracy, mean GFLOPs per clip and mean exit taken.

    Reads the per-clip dicts the recognizers' ``predict`` returns
    (``pred_scores``, ``label``, ``gflops``, ``exit``).
    """

    default_prefix = ''

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for r in data_samples:
            self.results.append(dict(scores=r['pred_scores'], label=r['label'], gflops=r['gflops'],
                                     exit=r['exit']))

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        scores = torch.stack([r['scores'] for r in results])
        labels = torch.tensor([r['label'] for r in results])
        top5 = scores.topk(min(5, scores.shape[1]), dim=1).indices
        return {
            'top1': float((top5[:, 0] == labels).float().mean()) * 100,
            'top5': float((top5 == labels[:, None]).any(1).float().mean()) * 100,
            'gflops': float(np.mean([r['gflops'] for r in results])),
            'mean_exit': float(np.mean([r['exit'] for r in results])),
        }
