"""Clips per second of gfvideo's loading path against raw decord, side by side.

For H.264 mp4 and VP9 webm at 240p and 480p, with 1 and 2 worker processes: the full
training path (``VideoDataset``: probe, TSN sampling of N=8 frames, decode, short-side
resize to 256, multi-scale crop to 224, uint8 tensor) through a ``DataLoader``, against
raw ``decord.VideoReader(path).get_batch(indices)`` of the same 8 frames per file in the
same number of processes. Prints clips/s and the ratio (goal: at least 0.8).

Usage: ``python benchmarks/loader.py [--clips 48] [--frames 48]``
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from gfvideo.data.datasets import VideoDataset, collate_clips
from gfvideo.data.encoding import write_video
from gfvideo.data.epoch_sampler import EpochSampler
from gfvideo.data.sampling import clip_rng, segment_indices
from gfvideo.runtime import tune_malloc

PIPELINE = [dict(type='Resize', scale=(-1, 256)),
            dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66)),
            dict(type='FormatShape')]


def make_videos(folder: Path, codec: str, height: int, clips: int, frames: int) -> Path:
    """``clips`` real videos (smooth moving gradients plus noise, so they compress like video)."""
    width = height * 4 // 3 // 2 * 2
    ext = 'mp4' if codec == 'h264' else 'webm'
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    lines = []
    for i in range(clips):
        t = np.arange(frames)[:, None, None]
        base = (np.sin((xx[None] + 3 * t + i) / 17.0) + np.cos((yy[None] - 2 * t) / 23.0)) * 60 + 128
        video = np.clip(base[..., None] + rng.normal(0, 8, (frames, height, width, 3)), 0, 255).astype(np.uint8)
        path = folder / f'{codec}_{height}_{i}.{ext}'
        write_video(path, video, codec=codec)
        lines.append(f'{path.name} 0')
    list_file = folder / f'{codec}_{height}.txt'
    list_file.write_text('\n'.join(lines) + '\n')
    return list_file


class RawDecord(Dataset):
    """The yardstick: decord's get_batch on the same TSN indices, nothing else."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key):
        import decord
        epoch, index = key if isinstance(key, tuple) else (0, key)
        vr = decord.VideoReader(self.paths[index])
        idx = segment_indices(len(vr), 8, random=True, rng=clip_rng(0, epoch, index))
        return torch.from_numpy(vr.get_batch(list(idx)).asnumpy())


def clips_per_second(dataset: Dataset, workers: int, collate=None) -> float:
    loader = DataLoader(dataset, batch_size=4, sampler=EpochSampler(dataset, seed=0, shuffle=True),
                        num_workers=workers, collate_fn=collate or (lambda batch: batch),
                        persistent_workers=False)
    for _ in loader:  # warm-up pass (worker start, page cache)
        break
    start = time.perf_counter()
    n = sum(len(batch['inputs']) if isinstance(batch, dict) else len(batch) for batch in loader)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--clips', type=int, default=48)
    p.add_argument('--frames', type=int, default=48, help='frames per generated video')
    args = p.parse_args()
    tune_malloc()
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp())
    print(f'{"format":<14}{"workers":>8}{"gfvideo clips/s":>17}{"raw decord clips/s":>20}{"ratio":>8}')
    for codec in ('h264', 'vp9'):
        for height in (240, 480):
            list_file = make_videos(folder, codec, height, args.clips, args.frames)
            ours = VideoDataset(str(list_file), PIPELINE, data_prefix=str(folder), num_segments=8, backend='decord')
            raw = RawDecord([str(folder / line.split()[0]) for line in list_file.read_text().splitlines()])
            for workers in (1, 2):
                a = clips_per_second(ours, workers, collate_clips)
                b = clips_per_second(raw, workers)
                print(f'{codec + " " + str(height) + "p":<14}{workers:>8}{a:>17.1f}{b:>20.1f}{a / b:>8.2f}', flush=True)


if __name__ == '__main__':
    main()
