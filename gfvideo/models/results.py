"""Per-clip prediction results from an episode, and multi-view testing (twice sampling, three crops).

A test clip may hold several views of the same video, view-major along the frame axis
(``[B, V * N, 3, H, W]``, ``V = data_samples['num_views']``, set by the dataset). Each view
runs as a clip of its own; a clip's scores are the mean of its views' softmax
probabilities (mmaction2's ``average_clips='prob'``), and its cost is the sum of its
views' costs.
"""
from __future__ import annotations

import torch

from .crop import patch_boxes
from .episode import Episode


def split_views(inputs: torch.Tensor, num_frames: int, views: int) -> torch.Tensor:
    """``[B, V * N, ...]`` -> ``[B * V, N, ...]``; the frame count must be exactly ``V * N``."""
    b, total = inputs.shape[:2]
    if total != views * num_frames:
        raise ValueError(f'a clip of {total} frames, but model.num_frames={num_frames} x num_views={views} '
                         f'= {views * num_frames} (the dataset\'s num_segments must equal model.num_frames)')
    return inputs.reshape(b * views, num_frames, *inputs.shape[2:])


def num_views(data_samples: dict | None) -> int:
    """Views per clip, as the dataset said (1 without data samples)."""
    return int((data_samples or {}).get('num_views', 1))


def clip_results(episode: Episode, exit_costs: list[float], data_samples: dict | None, views: int,
                 frame_hw: tuple[int, int], patch: int | None) -> list[dict]:
    """One result per row: ``pred_scores`` (softmax), ``exit``, ``gflops``, ``confidences``
    per exit reached, ``looks`` per focus step (frames and ``[x0, y0, x1, y1]`` boxes),
    label and clip id."""
    b = episode.exit_index.shape[0]
    confidences: list[list[float]] = [[] for _ in range(b)]
    looks: list[list[dict]] = [[] for _ in range(b)]
    for t, step in enumerate(episode.steps):   # one softmax and one box conversion per step, not per row
        rows = step.rows.tolist()
        for r, c in zip(rows, step.logits.detach().float().softmax(-1).amax(-1).tolist()):
            confidences[r].append(c)
        if t > 0:
            boxes = patch_boxes(step.action.centers, frame_hw, patch).tolist()
            for r, f, bx in zip(rows, step.action.frames.tolist(), boxes):
                looks[r].append(dict(frames=f, boxes=bx))
    scores = episode.final_logits.detach().float().softmax(-1).cpu()
    results = []
    for row in range(b):
        exit_index = int(episode.exit_index[row])
        result = dict(pred_scores=scores[row], exit=exit_index, gflops=exit_costs[exit_index],
                      confidences=confidences[row], looks=looks[row])
        if data_samples is not None:
            clip = row // views
            result['label'] = int(data_samples['labels'][clip])
            if 'clip_ids' in data_samples:
                result['clip_id'] = data_samples['clip_ids'][clip]
        results.append(result)
    return merge_views(results, views)


def merge_views(results: list[dict], views: int) -> list[dict]:
    """Merge per-view results (``views`` consecutive entries per clip) into per-clip ones:
    mean probabilities, the latest exit, summed GFLOPs; the first view's other fields."""
    if views == 1:
        return results
    merged = []
    for start in range(0, len(results), views):
        group = results[start:start + views]
        clip = dict(group[0])
        clip['pred_scores'] = torch.stack([r['pred_scores'] for r in group]).mean(0)
        clip['exit'] = max(r['exit'] for r in group)
        clip['gflops'] = sum(r['gflops'] for r in group)
        clip['views'] = views
        merged.append(clip)
    return merged
