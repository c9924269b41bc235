"""Per-clip prediction results, and multi-view testing (twice sampling, three crops).

A test clip may hold several views of the same video, view-major along the frame axis
(``[B, V * N, 3, H, W]``). Each view runs as a clip of its own; a clip's scores are the
mean of its views' softmax probabilities (mmaction2's ``average_clips='prob'``), and its
cost is the sum of its views' costs.
"""
from __future__ import annotations

import torch


def split_views(inputs: torch.Tensor, num_frames: int) -> tuple[torch.Tensor, int]:
    """``[B, V * N, ...]`` -> (``[B * V, N, ...]``, ``V``)."""
    b, total = inputs.shape[:2]
    if total % num_frames:
        raise ValueError(f'a clip of {total} frames is not a whole number of {num_frames}-frame views')
    views = total // num_frames
    return inputs.reshape(b * views, num_frames, *inputs.shape[2:]), views


def clip_result(data_samples: dict | None, i: int, logits: torch.Tensor, exit_index: int,
                gflops: float, **extra) -> dict:
    """One clip's result: ``pred_scores`` (softmax), ``exit``, ``gflops``, label and clip id."""
    result = dict(pred_scores=logits.float().softmax(-1).cpu(), exit=exit_index, gflops=gflops, **extra)
    if data_samples is not None:
        result['label'] = int(data_samples['labels'][i])
        if 'clip_ids' in data_samples:
            result['clip_id'] = data_samples['clip_ids'][i]
    return result


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
