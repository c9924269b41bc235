"""Focus boxes drawn on a frame with PIL: the one rule for tools/infer.py's GIF and the HTML report's thumbnails.

Boxes are ``[x0, y0, x1, y1]`` in pixels of the model's input frame (ends exclusive),
coloured per focus step with :data:`~gfvideo.report.plots.STEP_COLOURS` and numbered
from 1, like the matplotlib pictures of :mod:`gfvideo.report.plots`.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .plots import STEP_COLOURS


def focus_frame(frame: np.ndarray, looks: list[dict], slot: int, scale: float = 1.0,
                width: int = 2) -> Image.Image:
    """Frame ``slot`` of a clip (uint8 ``[H, W, 3]``) resized by ``scale``, with the box of
    every step (``looks``: per step, ``frames`` and ``boxes``) that looked at that frame."""
    h, w = frame.shape[:2]
    img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):  # nearest when enlarging keeps the pixels the model saw; bilinear when shrinking
        img = img.resize(size, Image.NEAREST if scale >= 1 else Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    for step, look in enumerate(looks):
        colour = STEP_COLOURS[step % len(STEP_COLOURS)]
        for f, box in zip(look['frames'], look['boxes']):
            if f == slot:
                x0, y0, x1, y1 = (round(v * scale) for v in box)
                draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=width)
                draw.text((x0 + 3, y0 + 2), str(step + 1), fill=colour)
    return img
