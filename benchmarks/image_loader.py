"""Images per second of gfvideo's image loading path against torchvision's ``ImageFolder``, side by side.

On real JPEG files of ImageNet's typical size (500 x 375, written here with PIL into class
folders), with 1 and 2 worker processes, batches of 32: the full training path
(``ImageDataset`` with GFNet's pipeline: decode, ``RandomResizedCrop(224)``, ``Flip``,
``FormatShape``, collated into a uint8 batch by ``collate_clips``) through a ``DataLoader``,
against ``torchvision.datasets.ImageFolder`` with ``RandomResizedCrop(224)``,
``RandomHorizontalFlip()`` and ``PILToTensor()`` (uint8 too; torch's default collate) in the
same number of processes. The two loaders run round-robin, ``--repeats`` epochs each after a
warm-up epoch; medians. Prints images/s and the ratio (goal: at least 0.95).

Usage: ``python benchmarks/image_loader.py [--images 320] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, default_collate
from torchvision import datasets, transforms

from gfvideo.data.datasets import collate_clips
from gfvideo.data.epoch_sampler import EpochSampler
from gfvideo.data.images import ImageDataset
from gfvideo.runtime import tune_malloc

PIPELINE = [dict(type='RandomResizedCrop', size=224), dict(type='Flip'), dict(type='FormatShape')]
BATCH = 32


def make_images(root: Path, n: int, classes: int = 8) -> None:
    """``n`` JPEGs (quality 90) of 500 x 375 in ``classes`` folders: smooth shapes plus noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:375, 0:500]
    for i in range(n):
        folder = root / f'n{i % classes:08d}'
        folder.mkdir(parents=True, exist_ok=True)
        base = (np.sin((xx + 7 * i) / 31.0)[..., None] * np.cos((yy - 3 * i) / 19.0)[..., None]
                * rng.uniform(40, 90, 3) + 128)
        image = np.clip(base + rng.normal(0, 12, (375, 500, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f'img_{i:05d}.JPEG', quality=90)


def loaders(root: Path, workers: int) -> dict[str, DataLoader]:
    ours = ImageDataset(str(root), PIPELINE, layout='folders')
    theirs = datasets.ImageFolder(str(root), transforms.Compose([
        transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(), transforms.PILToTensor()]))
    common = dict(batch_size=BATCH, num_workers=workers, persistent_workers=workers > 0)
    return {'gfvideo': DataLoader(ours, sampler=EpochSampler(ours, seed=0, shuffle=True),
                                  collate_fn=collate_clips, **common),
            'torchvision': DataLoader(theirs, shuffle=True, collate_fn=default_collate, **common)}


def epoch_seconds(loader: DataLoader) -> tuple[float, int]:
    start, n = time.perf_counter(), 0
    for batch in loader:
        n += len(batch['inputs'] if isinstance(batch, dict) else batch[0])
    return time.perf_counter() - start, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=320)
    p.add_argument('--repeats', type=int, default=3)
    args = p.parse_args()
    tune_malloc()
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp()) / 'train'
    make_images(root, args.images)
    print(f'{args.images} JPEGs of 500x375, batch {BATCH}, RandomResizedCrop(224) + flip, uint8 batches\n')
    print('| workers | gfvideo images/s | torchvision ImageFolder images/s | ratio |')
    print('|---|---|---|---|')
    for workers in (1, 2):
        runs = loaders(root, workers)
        for loader in runs.values():           # warm-up epoch: worker start, page cache
            epoch_seconds(loader)
        rates: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, loader in runs.items():
                seconds, n = epoch_seconds(loader)
                rates[name].append(n / seconds)
        ours, theirs = (float(np.median(rates[k])) for k in ('gfvideo', 'torchvision'))
        print(f'| {workers} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f} |', flush=True)


if __name__ == '__main__':
    main()
