"""The report's pictures (matplotlib, Agg backend, PNG)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

STEP_COLOURS = ('#e41a1c', '#377eb8', '#4daf4a', '#984ea3', '#ff7f00', '#a65628', '#f781bf', '#999999')


CURVE_LABELS = dict(optimal='early exit, fitted thresholds', geometric='early exit, geometric (MSDNet)')


def budget_curve(path: Path, curves: dict[str, list[dict]], anytime: list[tuple[float, float]],
                 baseline: dict | None) -> None:
    """Top-1 against mean GFLOPs per clip: each budget curve (name -> rows), forced exits, the baseline."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for (name, rows), style in zip(curves.items(), ('o-', '^-', 'v-')):
        if rows:
            ax.plot([b['mean_gflops'] for b in rows], [b['top1'] for b in rows], style,
                    label=CURVE_LABELS.get(name, name))
    ax.plot([g for g, _ in anytime], [a for _, a in anytime], 's--', alpha=0.7, label='every clip to exit k')
    if baseline:
        ax.plot([baseline['mean_gflops']], [baseline['top1']], '*', markersize=14, label='static TSM')
    _save_top1_plot(fig, ax, path, 'mean GFLOPs per clip')


def latency_curve(path: Path, latency: dict) -> None:
    """Top-1 against mean ms per clip (a report's ``latency`` section): budgets, forced exits, the baseline."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot([b['mean_ms'] for b in latency['budgets']], [b['top1'] for b in latency['budgets']], 'o-',
            label="early exit, the report's budgets")
    ax.plot([e['mean_ms'] for e in latency['exits']], [e['top1'] for e in latency['exits']], 's--', alpha=0.7,
            label='every clip to exit k')
    if 'baseline' in latency:
        ax.plot([latency['baseline']['mean_ms']], [latency['baseline']['top1']], '*', markersize=14, label='static TSM')
    _save_top1_plot(fig, ax, path, f"mean ms per clip (batch 1, {latency['clips']} clips)")


def _save_top1_plot(fig, ax, path: Path, xlabel: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel('top-1 (%)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def exit_histogram(path: Path, exits: np.ndarray, num_exits: int) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    counts = np.bincount(exits, minlength=num_exits)
    ax.bar(np.arange(num_exits), counts)
    ax.set_xticks(np.arange(num_exits), ['glance'] + [f'step {k}' for k in range(1, num_exits)])
    ax.set_ylabel('clips')
    ax.set_title('exit taken')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def patch_heatmap(path: Path, boxes: np.ndarray, frame_hw: tuple[int, int]) -> None:
    """Where patch centres land: ``boxes`` ``[K, 4]`` in pixels."""
    h, w = frame_hw
    fig, ax = plt.subplots(figsize=(4.5, 4))
    if len(boxes):
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        hist, _, _ = np.histogram2d(cy, cx, bins=16, range=[[0, h], [0, w]])
        im = ax.imshow(hist, extent=(0, w, h, 0), cmap='magma')
        fig.colorbar(im, ax=ax, label='patch centres')
    ax.set_title('where the focus looked')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def example_clips(path: Path, clips: list[dict]) -> None:
    """One row per clip: its sampled frames with the focus boxes drawn, numbered by step.

    Each item: ``frames`` uint8 ``[N, H, W, 3]``, ``looks`` (per step: frames, boxes),
    ``title``.
    """
    n = max(len(c['frames']) for c in clips)
    fig, axes = plt.subplots(len(clips), n, figsize=(2.0 * n, 2.3 * len(clips)), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.94, bottom=0.01, wspace=0.04, hspace=0.3)
    for row, clip in zip(axes, clips):
        for i, ax in enumerate(row):
            ax.axis('off')
            if i < len(clip['frames']):
                ax.imshow(clip['frames'][i])
        for step, look in enumerate(clip['looks']):
            colour = STEP_COLOURS[step % len(STEP_COLOURS)]
            for frame, (x0, y0, x1, y1) in zip(look['frames'], look['boxes']):
                row[frame].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                               edgecolor=colour, linewidth=2))
                row[frame].text(x0, y0 - 1, str(step + 1), color=colour, fontsize=8, va='bottom')
        row[0].set_title(clip['title'], fontsize=9, loc='left')
    fig.savefig(path, dpi=90)
    plt.close(fig)
