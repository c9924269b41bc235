"""Evaluating every clip at every exit: the table budgets, reports and plots are made from.

One pass over a split with no thresholds gives, per clip, the confidence, the score
features (:func:`~gfvideo.compute.exit_scores.exit_features`) and the prediction at every
exit and the frames and boxes looked at. Because a clip that leaves at exit
``e`` has exactly the logits it has at exit ``e`` in the full run (tested), any set of
thresholds can then be applied to the table without running the model again, and the
clip's cost is the cumulative cost of the components that ran up to its exit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ..compute.costs import model_exit_costs
from ..compute.exit_scores import exit_features
from ..models.crop import patch_boxes


@dataclass
class ClipTable:
    """Per-clip results at every exit. ``E`` exits, ``M`` clips."""
    clip_ids: list[str]
    labels: np.ndarray                 # [M]
    confidences: np.ndarray            # [M, E] max softmax probability at each exit
    predictions: np.ndarray            # [M, E] argmax at each exit
    top5: np.ndarray                   # [M, E, 5]
    exit_costs: list[float]            # [E] cumulative GFLOPs of a clip leaving at each exit
    features: np.ndarray | None = None  # [M, E, F] what every exit score is computed from (float32)
    looks: list[list[dict]] = field(default_factory=list)  # per clip, per step: frames, boxes
    frame_inds: list[list[int]] = field(default_factory=list)  # the sampled frames of each clip
    indices: list[int] = field(default_factory=list)           # dataset index of each clip

    @property
    def correct(self) -> np.ndarray:
        return self.predictions == self.labels[:, None]

    def anytime_top1(self) -> list[float]:
        """Top-1 (%) if every clip were forced to each exit."""
        return (self.correct.mean(0) * 100).tolist()


@torch.no_grad()
def collect(model, dataloader, progress: bool = True) -> ClipTable:
    """Run ``model`` (any :class:`~gfvideo.models.base.Recognizer`) over ``dataloader`` with no early exit."""
    model.eval()
    ids, labels, feats, pred, top5, looks, frame_inds, indices = [], [], [], [], [], [], [], []
    for batch in tqdm(dataloader, desc='evaluating', disable=not progress, leave=False):
        data = model.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        episode = model.run(inputs)                                     # every row reaches every exit
        logits = torch.stack(episode.logits, 1)                         # [B, E, C]
        frame_hw = inputs.shape[-2:]
        steps = [(a.frames.tolist(), patch_boxes(a.centers, frame_hw, model.patch_size).tolist())
                 for a in episode.actions]
        looks += [[dict(frames=f[i], boxes=b[i]) for f, b in steps] for i in range(inputs.shape[0])]
        probs = logits.float().softmax(-1)
        feats.append(exit_features(logits).cpu())                       # the scores' one source
        pred.append(probs.max(-1).indices.cpu())
        top5.append(probs.topk(min(5, probs.shape[-1]), -1).indices.cpu())
        labels.append(samples['labels'].cpu())
        ids += list(samples['clip_ids'])
        frame_inds += samples['frame_inds'].tolist()
        indices += samples['indices'].tolist()
    costs = model_exit_costs(model)
    features = torch.cat(feats).numpy()
    return ClipTable(clip_ids=ids, labels=torch.cat(labels).numpy(), confidences=features[..., 0].copy(),
                     predictions=torch.cat(pred).numpy(), top5=torch.cat(top5).numpy(),
                     exit_costs=list(costs), features=features, looks=looks, frame_inds=frame_inds, indices=indices)
