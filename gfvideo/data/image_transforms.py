"""The standard ImageNet transforms as clip transforms: ``RandomResizedCrop`` and ``ResizeCenterCrop``.

They work on the ``results`` dict of ``transforms.py`` (``imgs``: uint8 ``[N, H, W, 3]``; an
image is ``N = 1``), every frame getting the same geometry, randomness only from
``results['rng']``. The training recipe is ``RandomResizedCrop(224)`` then ``Flip()`` (the
horizontal flip of ``flip.py``); the test recipe ``ResizeCenterCrop(224)`` (short side to
``224 / 0.875 = 256``, central 224 crop).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gfvideo.registry import TRANSFORMS

# The crop helpers shared by every crop of transforms.py (lazy resize aware, crop_bbox kept).
from .transforms import CenterCrop, Resize, as_pair, crop_window, frames_hw, rng_of

__all__ = ['RandomResizedCrop', 'ResizeCenterCrop', 'random_resized_box']


def random_resized_box(h: int, w: int, scale: tuple[float, float], ratio: tuple[float, float],
                       rng: np.random.Generator) -> tuple[int, int, int, int]:
    """torchvision's ``RandomResizedCrop.get_params``, drawing from ``rng``: ``(x, y, cw, ch)``.

    Up to 10 tries of an area fraction uniform in ``scale`` and an aspect ratio (w / h)
    log-uniform in ``ratio``, rounded to pixels; the first that fits sits at a uniformly
    random position. If none fits: the whole frame, cut to the nearest ratio in range, centred.
    """
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = (int(v) for v in rng.integers(0, [w - cw + 1, h - ch + 1]))
            return x, y, cw, ch
    in_ratio = w / h
    if in_ratio < min(ratio):
        cw, ch = w, int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        cw, ch = int(round(h * max(ratio))), h
    else:
        cw, ch = w, h
    return (w - cw) // 2, (h - ch) // 2, cw, ch


@TRANSFORMS.register_module()
class RandomResizedCrop:
    """Crop a random area and aspect ratio (torchvision's algorithm), resized to ``size``.

    Defaults are the ImageNet recipe's: area fraction ``scale=(0.08, 1)``, aspect ratio
    ``ratio=(3/4, 4/3)``. The window is resized bilinearly (OpenCV, as every crop here),
    once even after a lazy ``Resize``. Randomness: ``results['rng']``.

    Required keys: imgs, rng.
    Added/modified keys: imgs, crop_bbox (``[x1, y1, x2, y2]``), img_shape.
    """

    def __init__(self, size: int | tuple[int, int], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        self.size = as_pair(size, 'size')
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f'scale must be (lo, hi) with 0 < lo <= hi <= 1, got {scale}')
        if len(self.ratio) != 2 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f'ratio must be (lo, hi) with 0 < lo <= hi, got {ratio}')

    def __call__(self, results: dict) -> dict:
        rng = rng_of(results, 'RandomResizedCrop')
        x, y, cw, ch = random_resized_box(*frames_hw(results, 'RandomResizedCrop'),
                                          self.scale, self.ratio, rng)
        crop_window(results, x, y, cw, ch, out_size=self.size)
        return results

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int]:
        """``size`` as ``(h, w)``."""
        return self.size[1], self.size[0]

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio})'


@TRANSFORMS.register_module()
class ResizeCenterCrop:
    """The ImageNet test crop: short side to ``int(size / crop_pct)`` (256 for 224 at the
    usual 0.875, as in GFNet's and timm's evaluation), then the central ``size`` square:
    ``Resize`` (lazy) + ``CenterCrop``, so one interpolation, of the crop only.

    Required keys: imgs.
    Added/modified keys: imgs, crop_bbox (``[x1, y1, x2, y2]``), img_shape, scale_factor.
    """

    def __init__(self, size: int, crop_pct: float = 0.875) -> None:
        if not 0 < crop_pct <= 1:
            raise ValueError(f'crop_pct must be in (0, 1], got {crop_pct}')
        self.size = as_pair(size, 'size')[0]
        self.crop_pct = float(crop_pct)
        self.resize = Resize(int(self.size / self.crop_pct))
        self.crop = CenterCrop(self.size)

    def __call__(self, results: dict) -> dict:
        return self.crop(self.resize(results))

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int]:
        """``(size, size)``."""
        return self.size, self.size

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, crop_pct={self.crop_pct})'
