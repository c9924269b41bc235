"""Horizontal flips, and the classes whose meaning a flip swaps (Something-Something's left/right).

``Flip`` is a clip transform like those of ``transforms.py`` (same ``results`` dict, same
randomness rule: only ``results['rng']``).
"""
from __future__ import annotations

from collections.abc import Sequence

from gfvideo.registry import TRANSFORMS

from .transforms import frames_of, rng_of

__all__ = ['Flip', 'SOMETHING_FLIP_PAIRS', 'flip_pairs_to_map', 'flip_map_names']


# Something-Something's classes whose meaning swaps under a horizontal flip, by name (the
# pairs behind mmaction2's index maps for V1 and V2). Names, not indices: V1's index
# depends on the class order chosen (file order or alphabetical).
SOMETHING_FLIP_PAIRS = (
    ('Pulling something from left to right', 'Pulling something from right to left'),
    ('Pushing something from left to right', 'Pushing something from right to left'),
    ('Turning the camera left while filming something', 'Turning the camera right while filming something'),
)


def flip_pairs_to_map(pairs: Sequence[Sequence[str]]) -> dict[str, str]:
    """A symmetric name map (``a -> b`` and ``b -> a``) from ``(a, b)`` pairs."""
    out: dict[str, str] = {}
    for a, b in pairs:
        out[a], out[b] = b, a
    return out


def flip_map_names(index_map: dict[int, int], classes: Sequence[str]) -> dict[str, str]:
    """Turn an index flip map made for ``classes`` (e.g. mmaction2's, in the label file's
    order) into a name map, which ``Flip`` re-binds to whatever class order a dataset uses."""
    return {classes[int(a)]: classes[int(b)] for a, b in index_map.items()}


@TRANSFORMS.register_module()
class Flip:
    """Horizontal flip of the whole clip with probability ``flip_ratio``.

    ``flip_label_map`` swaps labels whose meaning flips with the image (left/right
    classes of Something-Something). Keyed by class name, it stays right under any class
    order: the dataset binds the names to its class list (``bind_classes``);
    ``'something'`` means ``SOMETHING_FLIP_PAIRS``. Keyed by int, it is used as given.
    Randomness: ``results['rng']``.

    Required keys: imgs, rng; label when ``flip_label_map`` is set.
    Added/modified keys: imgs, flip (bool), label.
    """

    def __init__(self, flip_ratio: float = 0.5,
                 flip_label_map: dict[int, int] | dict[str, str] | str | None = None) -> None:
        if not 0 <= flip_ratio <= 1:
            raise ValueError(f'flip_ratio must be in [0, 1], got {flip_ratio}')
        if isinstance(flip_label_map, str):
            if flip_label_map != 'something':
                raise ValueError(f"flip_label_map must be a dict or 'something', got {flip_label_map!r}")
            flip_label_map = flip_pairs_to_map(SOMETHING_FLIP_PAIRS)
        self.flip_ratio = float(flip_ratio)
        self.flip_label_names: dict[str, str] | None = None
        self.flip_label_map: dict[int, int] | None = None
        if flip_label_map:
            keys = list(flip_label_map)
            if all(isinstance(k, str) and not k.isdigit() for k in keys):
                self.flip_label_names = {str(k): str(v) for k, v in flip_label_map.items()}
            else:  # config files written as JSON turn int keys into strings
                self.flip_label_map = {int(k): int(v) for k, v in flip_label_map.items()}

    def bind_classes(self, classes: Sequence[str]) -> None:
        """Resolve a name-keyed ``flip_label_map`` to indices of ``classes``."""
        if self.flip_label_names is None:
            return
        where = {n: i for i, n in enumerate(classes)}
        missing = sorted({n for pair in self.flip_label_names.items() for n in pair} - set(where))
        if missing:
            raise KeyError(f'Flip: flip_label_map names classes missing from the class list: {missing}')
        self.flip_label_map = {where[a]: where[b] for a, b in self.flip_label_names.items()}

    def __call__(self, results: dict) -> dict:
        imgs = frames_of(results, 'Flip')
        if self.flip_label_names is not None and self.flip_label_map is None:
            raise RuntimeError('Flip: a name-keyed flip_label_map needs bind_classes(class names) '
                               '(VideoDataset does this)')
        flip = bool(rng_of(results, 'Flip').random() < self.flip_ratio)
        results['flip'] = flip
        if flip:
            results['imgs'] = imgs[:, :, ::-1]
            if self.flip_label_map is not None:
                label = int(results['label'])
                results['label'] = self.flip_label_map.get(label, label)
        return results

    def output_hw(self, hw: tuple[int, int] | None) -> tuple[int, int] | None:
        """Unchanged."""
        return hw

    def __repr__(self) -> str:
        shown = self.flip_label_names if self.flip_label_names is not None else self.flip_label_map
        return f'{type(self).__name__}(flip_ratio={self.flip_ratio}, flip_label_map={shown})'
