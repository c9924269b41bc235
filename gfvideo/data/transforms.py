"""Clip transforms on a ``results`` dict (``results['imgs']``: uint8 ``[N, H, W, 3]``).

Every frame of a clip gets the same geometry. Random choices come only from
``results['rng']`` (see ``sampling.clip_rng``), never from a global RNG, so a clip
is reproducible from ``(seed, epoch, index)`` alone. Sizes given as pairs are
``(w, h)``. Normalisation is left to the model's data preprocessor (on the device).
Each transform says without frames what size it makes (``output_hw``), so a config is
checked against the model before any clip loads. ``Flip`` lives in ``flip.py``; transforms
defined elsewhere read frames and randomness through :func:`frames_of` and :func:`rng_of`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
import numpy as np
import torch

from gfvideo.registry import TRANSFORMS

try:
    import cv2
except ImportError:  # pragma: no cover - opencv is a soft dependency
    cv2 = None

__all__ = ['Compose', 'build_pipeline', 'Resize', 'RandomCrop', 'CenterCrop', 'ThreeCrop',
           'MultiScaleCrop', 'FormatShape', 'resize_clip', 'frames_of', 'rng_of']

# cv2.resize accepts at most 512 channels: 170 RGB frames per call.
_CV2_MAX_FRAMES = 170


def as_pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    """``(w, h)`` from an int or a pair."""
    if isinstance(size, int):
        w = h = size
    else:
        w, h = (int(v) for v in size)
    if w < 1 or h < 1:
        raise ValueError(f'{name} must be positive, got {size}')
    return w, h


def rng_of(results: dict, who: str) -> np.random.Generator:
    """The clip's generator, ``results['rng']``: the only randomness a transform may use."""
    rng = results.get('rng')
    if not isinstance(rng, np.random.Generator):
        raise KeyError(f'{who} is random and needs results["rng"] (a np.random.Generator '
                       f'from clip_rng), got {type(rng).__name__}')
    return rng


def _source_imgs(results: dict, who: str) -> np.ndarray:
    """``results['imgs']`` as stored (a lazy ``Resize`` may still be pending on it)."""
    imgs = results.get('imgs')
    if not isinstance(imgs, np.ndarray) or imgs.ndim != 4 or imgs.shape[-1] != 3:
        shape = getattr(imgs, 'shape', None)
        raise ValueError(f'{who} needs results["imgs"] as an [N, H, W, 3] array, got {shape}')
    return imgs


def frames_of(results: dict, who: str) -> np.ndarray:
    """``results['imgs']`` at its current size: a pending lazy resize is carried out first."""
    imgs = _source_imgs(results, who)
    size = results.pop('lazy_size', None)
    if size is not None:
        imgs = results['imgs'] = resize_clip(imgs, size)
    return imgs


def frames_hw(results: dict, who: str) -> tuple[int, int]:
    """Frame height and width as the transforms see them (after any pending resize)."""
    imgs = _source_imgs(results, who)
    size = results.get('lazy_size')
    return (size[1], size[0]) if size is not None else imgs.shape[1:3]


def resize_clip(imgs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of all frames ``[N, H, W, C]`` to ``size=(w, h)``.

    With OpenCV the frames are stacked along the channel axis so one ``cv2.resize``
    call handles up to 170 frames; without it, ``torch.nn.functional.interpolate``.
    """
    n, h, w, c = imgs.shape
    new_w, new_h = size
    if (new_w, new_h) == (w, h):
        return imgs
    if cv2 is not None:
        step = max(1, _CV2_MAX_FRAMES * 3 // c)
        out = np.empty((n, new_h, new_w, c), dtype=imgs.dtype)
        for lo in range(0, n, step):
            chunk = imgs[lo:lo + step]
            k = len(chunk)
            packed = np.ascontiguousarray(chunk.transpose(1, 2, 0, 3)).reshape(h, w, k * c)
            resized = cv2.resize(packed, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
            out[lo:lo + k] = resized.reshape(new_h, new_w, k, c).transpose(2, 0, 1, 3)
        return out
    x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(new_h, new_w), mode='bilinear',
                                        align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _crop_fits(name: str, size: tuple[int, int], results: dict) -> tuple[int, int]:
    """Frame height and width, after checking a ``size`` (w, h) crop fits in them."""
    h, w = frames_hw(results, name)
    if size[0] > w or size[1] > h:
        raise ValueError(f'{name} {size} is larger than the frames ({w}, {h}); resize first')
    return h, w


def crop_window(results: dict, x: int, y: int, w: int, h: int,
          out_size: tuple[int, int] | None = None) -> None:
    """Crop the ``(x, y, w, h)`` window (current coordinates), resized to ``out_size`` (w, h) if given.

    After a lazy ``Resize`` the window is cut from the original frames and resized once,
    straight to its final size: one interpolation instead of two, on fewer pixels.
    """
    imgs = _source_imgs(results, 'crop')
    size = results.pop('lazy_size', None)
    if size is not None:
        sx, sy = imgs.shape[2] / size[0], imgs.shape[1] / size[1]
        x0, y0 = int(round(x * sx)), int(round(y * sy))
        x1, y1 = max(x0 + 1, int(round((x + w) * sx))), max(y0 + 1, int(round((y + h) * sy)))
        imgs, out_size = imgs[:, y0:y1, x0:x1], out_size or (w, h)
    else:
        imgs = imgs[:, y:y + h, x:x + w]
    results['imgs'] = resize_clip(imgs, out_size) if out_size else imgs
    results['crop_bbox'] = np.array([x, y, x + w, y + h], dtype=np.int64)
    results['img_shape'] = (out_size[1], out_size[0]) if out_size else (h, w)


class Compose:
    """Apply transforms in order; a transform returning None drops the sample (None)."""

    def __init__(self, transforms: Sequence[dict | Callable[[dict], dict | None]]) -> None:
        self.transforms = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms]
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f'transform {t!r} is not callable')

    def __call__(self, results: dict) -> dict | None:
        for t in self.transforms:
            results = t(results)
            if results is None:
                return None
        return results

    def output_hw(self, hw: tuple[int, int] | None = None) -> tuple[int, int] | None:
        """Frame ``(h, w)`` the pipeline makes from frames of ``hw`` (None: unknown); None
        when it can't be known without frames (no crop, or a transform that doesn't say)."""
        for t in self.transforms:
            hw = t.output_hw(hw) if hasattr(t, 'output_hw') else None
        return hw

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t!r},' for t in self.transforms)
        return f'{type(self).__name__}([{inner}\n])'


def build_pipeline(cfgs: Sequence[dict | Callable[[dict], dict | None]]) -> Compose:
    """Build a pipeline from transform configs (``dict(type='Resize', ...)``) or callables."""
    return Compose(cfgs)


@TRANSFORMS.register_module()
class Resize:
    """Resize every frame.

    ``scale``: an int ``s`` or a pair with a -1 (``(-1, s)``) resizes the short side
    to ``s`` keeping the aspect ratio; a pair ``(w, h)`` resizes to exactly that.

    ``lazy`` (default): only record the new size (``lazy_size``); a following crop cuts
    its window from the original frames and resizes once (TSM's resize-256-then-crop
    costs one interpolation of the crop instead of two, one of them of whole frames).
    Any other transform that reads ``imgs`` carries the resize out first.

    Required keys: imgs.
    Added/modified keys: imgs (or lazy_size), img_shape, scale_factor (``(w_factor, h_factor)``).
    """

    def __init__(self, scale: int | tuple[int, int] = (-1, 256), lazy: bool = True) -> None:
        if isinstance(scale, int):
            scale = (-1, scale)
        scale = tuple(int(v) for v in scale)
        if len(scale) != 2 or max(scale) < 1 or (min(scale) < 1 and min(scale) != -1):
            raise ValueError(f'scale must be s, (-1, s), (s, -1) or (w, h), got {scale}')
        self.scale = scale
        self.lazy = bool(lazy)

    def _target(self, h: int, w: int) -> tuple[int, int]:
        if -1 not in self.scale:
            return self.scale
        short = max(self.scale)
        if h <= w:
            return int(w * short / h + 0.5), short
        return short, int(h * short / w + 0.5)

    def __call__(self, results: dict) -> dict:
        h, w = frames_hw(results, 'Resize')
        new_w, new_h = self._target(h, w)
        if self.lazy:  # a second lazy resize replaces the first: still one interpolation
            results['lazy_size'] = (new_w, new_h)
        else:
            results['imgs'] = resize_clip(frames_of(results, 'Resize'), (new_w, new_h))
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / w, new_h / h)
        return results

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int] | None:
        """The resized ``(h, w)``; a short-side resize of frames of unknown size: None."""
        if -1 not in self.scale:
            return self.scale[1], self.scale[0]
        if hw is None:
            return None
        w, h = self._target(*hw)
        return h, w

    def __repr__(self) -> str:
        return f'{type(self).__name__}(scale={self.scale}, lazy={self.lazy})'


class _FixedSizeCrop:
    """A crop to ``self.size`` (w, h), whatever the frames."""

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int]:
        """``size`` as ``(h, w)``."""
        return self.size[1], self.size[0]


@TRANSFORMS.register_module()
class RandomCrop(_FixedSizeCrop):
    """Crop a ``size`` (int or ``(w, h)``) window at a random position, the same for all frames.

    Randomness: ``results['rng']``.
    Required keys: imgs, rng.
    Added/modified keys: imgs, crop_bbox (``[x1, y1, x2, y2]``), img_shape.
    """

    def __init__(self, size: int | tuple[int, int]) -> None:
        self.size = as_pair(size, 'size')

    def __call__(self, results: dict) -> dict:
        rng = rng_of(results, 'RandomCrop')
        h, w = _crop_fits('RandomCrop', self.size, results)
        cw, ch = self.size
        x, y = (int(v) for v in rng.integers(0, [w - cw + 1, h - ch + 1]))
        crop_window(results, x, y, cw, ch)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size})'


@TRANSFORMS.register_module()
class CenterCrop(_FixedSizeCrop):
    """Crop the central ``size`` (int or ``(w, h)``) window.

    Required keys: imgs.
    Added/modified keys: imgs, crop_bbox (``[x1, y1, x2, y2]``), img_shape.
    """

    def __init__(self, size: int | tuple[int, int]) -> None:
        self.size = as_pair(size, 'size')

    def __call__(self, results: dict) -> dict:
        h, w = _crop_fits('CenterCrop', self.size, results)
        cw, ch = self.size
        crop_window(results, (w - cw) // 2, (h - ch) // 2, cw, ch)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size})'


@TRANSFORMS.register_module()
class ThreeCrop:
    """Three ``size`` x ``size`` views along the longer side (start, centre, end), for testing.

    The views are stacked view-major along the frame axis: ``[3 * N, size, size, 3]``, and
    ``num_views`` is multiplied by 3; the recognizers average the views' probabilities.
    Use it after a short-side ``Resize`` to ``size`` (as TSM's and mmaction2's 3-crop test).

    Required keys: imgs; num_views (optional, default 1).
    Added/modified keys: imgs, crop_bboxes (``[3, 4]``), img_shape, num_views.
    """

    def __init__(self, size: int) -> None:
        self.size = as_pair(size, 'size')[0]

    def __call__(self, results: dict) -> dict:
        s = self.size
        h, w = _crop_fits('ThreeCrop', (s, s), results)
        imgs = frames_of(results, 'ThreeCrop')
        if w >= h:
            origins = [(x, (h - s) // 2) for x in (0, (w - s) // 2, w - s)]
        else:
            origins = [((w - s) // 2, y) for y in (0, (h - s) // 2, h - s)]
        results['imgs'] = np.concatenate([imgs[:, y:y + s, x:x + s] for x, y in origins])
        results['crop_bboxes'] = np.array([[x, y, x + s, y + s] for x, y in origins], dtype=np.int64)
        results['img_shape'] = (s, s)
        results['num_views'] = int(results.get('num_views', 1)) * 3
        return results

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int]:
        """Each view's ``(size, size)``."""
        return self.size, self.size

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size})'


# Fixed crop positions as (x, y) fractions of the free room, TSM style: 4 corners and
# the centre, or additionally the edge midpoints and the quarter points.
_FIXED_5 = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]
_FIXED_13 = _FIXED_5 + [(0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]


@TRANSFORMS.register_module()
class MultiScaleCrop:
    """TSM-style multi-scale crop, then resize to ``input_size``.

    Crop width and height are each ``scale * min(H, W)`` for scales whose positions
    in ``scales`` differ by at most ``max_wh_scale_gap`` (sizes within 3 px of the
    input size snap to it). The window sits at a uniformly random position if
    ``random_crop``, else at one of ``num_fixed_crops`` (5 or 13) fixed positions
    (corners, centre, ...). Randomness: ``results['rng']``.

    Required keys: imgs, rng.
    Added/modified keys: imgs, crop_bbox (``[x1, y1, x2, y2]``), img_shape.
    """

    def __init__(self, input_size: int | tuple[int, int],
                 scales: Sequence[float] = (1, .875, .75, .66), max_wh_scale_gap: int = 1,
                 random_crop: bool = False, num_fixed_crops: int = 5) -> None:
        self.input_size = as_pair(input_size, 'input_size')
        self.scales = tuple(float(s) for s in scales)
        if not self.scales or not all(0 < s <= 1 for s in self.scales):
            raise ValueError(f'scales must be in (0, 1], got {scales}')
        if num_fixed_crops not in (5, 13):
            raise ValueError(f'num_fixed_crops must be 5 or 13, got {num_fixed_crops}')
        self.max_wh_scale_gap = int(max_wh_scale_gap)
        self.random_crop = bool(random_crop)
        self.num_fixed_crops = num_fixed_crops
        n = len(self.scales)
        self._pairs = np.array([(i, j) for i in range(n) for j in range(n)
                                if abs(i - j) <= self.max_wh_scale_gap])

    def _crop_box(self, h: int, w: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        base = min(h, w)
        sizes = np.array([int(base * s) for s in self.scales])
        in_w, in_h = self.input_size
        widths = np.where(np.abs(sizes - in_w) < 3, in_w, sizes)
        heights = np.where(np.abs(sizes - in_h) < 3, in_h, sizes)
        i, j = self._pairs[rng.integers(len(self._pairs))]
        cw, ch = int(min(widths[i], w)), int(min(heights[j], h))
        if self.random_crop:
            x, y = (int(v) for v in rng.integers(0, [w - cw + 1, h - ch + 1]))
        else:
            fixed = _FIXED_5 if self.num_fixed_crops == 5 else _FIXED_13
            fx, fy = fixed[rng.integers(len(fixed))]
            x, y = (w - cw) // 4 * fx, (h - ch) // 4 * fy
        return x, y, cw, ch

    def __call__(self, results: dict) -> dict:
        rng = rng_of(results, 'MultiScaleCrop')
        x, y, cw, ch = self._crop_box(*frames_hw(results, 'MultiScaleCrop'), rng)
        crop_window(results, x, y, cw, ch, out_size=self.input_size)
        return results

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int]:
        """``input_size`` as ``(h, w)``."""
        return self.input_size[1], self.input_size[0]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, scales={self.scales}, '
                f'max_wh_scale_gap={self.max_wh_scale_gap}, random_crop={self.random_crop}, '
                f'num_fixed_crops={self.num_fixed_crops})')


@TRANSFORMS.register_module()
class FormatShape:
    """Turn ``imgs`` ``[N, H, W, 3]`` into a contiguous uint8 tensor ``inputs`` ``[N, 3, H, W]``.

    Required keys: imgs.
    Added/modified keys: inputs (added), imgs (removed: the tensor owns the data).
    """

    def __call__(self, results: dict) -> dict:
        imgs = frames_of(results, 'FormatShape')
        if imgs.dtype != np.uint8:
            raise ValueError(f'FormatShape expects uint8 frames, got {imgs.dtype}')
        results['inputs'] = torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
        del results['imgs']
        return results

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int] | None:
        """Unchanged."""
        return hw

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'
