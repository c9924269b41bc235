"""Writing real video files with PyAV (demo data, test fixtures)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Encoder settings per codec. VP9's defaults are about 10x slower than realtime mode;
# the low CRF keeps fine textures (the demo's object identity) through compression.
_CODECS = {
    'vp9': dict(codec='libvpx-vp9', pix_fmt='yuv420p',
                options={'deadline': 'realtime', 'cpu-used': '8', 'crf': '10', 'b': '0'}),
    'h264': dict(codec='libx264', pix_fmt='yuv420p',
                 options={'preset': 'ultrafast', 'crf': '12'}),
    # lossless: decoding gives back exactly the frames written (tests comparing pixels)
    'ffv1': dict(codec='ffv1', pix_fmt='bgr0', options={}),
}


def write_video(path: str | Path, frames: np.ndarray, fps: int = 12, codec: str = 'vp9') -> Path:
    """Encode ``frames`` (uint8 [T, H, W, 3], RGB; H and W even) to ``path``.

    ``codec`` is ``'vp9'`` (use a ``.webm`` path), ``'h264'`` (``.mp4``) or the lossless
    ``'ffv1'`` (``.mkv``).
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f'frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}')
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f'frame height and width must be even for yuv420p, got {frames.shape[1:3]}')
    if codec not in _CODECS:
        raise ValueError(f'unknown codec {codec!r}; choose from {sorted(_CODECS)}')
    spec = _CODECS[codec]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # bitexact: no random track id in the container, so the same frames give the same bytes
    with av.open(str(path), mode='w', options={'fflags': '+bitexact'}) as container:
        stream = container.add_stream(spec['codec'], rate=Fraction(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = spec['pix_fmt']
        stream.options = dict(spec['options'])
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
