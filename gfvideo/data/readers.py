"""The readers behind :class:`~gfvideo.data.decoding.ClipSource`, each on its own (no fallback).

- :class:`DecordReader`: a file opened with decord; fast seeking, one ``get_batch`` per read.
- :class:`PyAVReader`: a file decoded with PyAV, sequentially and tolerantly (undecodable
  packets are skipped, a truncated container ends the stream).
- :func:`read_image` / :func:`check_image`: one image file (a frame of a folder, or an image
  dataset's sample), decoded / its header read.
- :func:`read_frame_folder` / :func:`count_frame_folder`: JPEG frame folders.

Which reader serves a request, and when decord hands over to PyAV, is decided in one place,
``ClipSource`` (``gfvideo/data/decoding.py``); code outside this package goes through it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import av
import numpy as np

__all__ = ['DecodeError', 'short_reason', 'check_file', 'as_indices', 'decord_available',
           'DecordReader', 'PyAVReader', 'read_image', 'check_image', 'read_frame_folder',
           'count_frame_folder']


class DecodeError(RuntimeError):
    """A video (or frame folder) could not be read: names the path and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f'cannot decode {self.path}: {reason}')

    def __reduce__(self):  # picklable across data-loader worker processes
        return type(self), (self.path, self.reason)


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line (for DecodeError reasons)."""
    text = ' '.join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + '...'


def check_file(path: str) -> None:
    """DecodeError unless ``path`` is a non-empty regular file (reasons: 'file not found',
    'not a regular file', 'zero-byte file')."""
    if not os.path.exists(path):
        raise DecodeError(path, 'file not found')
    if not os.path.isfile(path):
        raise DecodeError(path, 'not a regular file')
    if os.path.getsize(path) == 0:
        raise DecodeError(path, 'zero-byte file')


def as_indices(indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Frame indices as a flat int64 array; ValueError if empty or negative."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        raise ValueError('indices must not be empty')
    if idx.min() < 0:
        raise ValueError(f'frame indices must be >= 0, got {idx.min()}')
    return idx


# ----------------------------------------------------------------------------- decord

_decord: Any = None


def _get_decord() -> Any:
    """Import decord lazily (None if not installed); imported once per process."""
    global _decord
    if _decord is None:
        try:
            import decord
            _decord = decord
        except ImportError:
            _decord = False
    return _decord or None


def decord_available() -> bool:
    """Whether decord can be imported."""
    return _get_decord() is not None


def _decode_threads() -> int:
    """Decoder threads: the CPU cores shared out among the data-loader workers (at least 1),
    so one worker still decodes with every core and N workers don't oversubscribe them;
    0 (decord's automatic choice) outside a worker."""
    from torch.utils.data import get_worker_info
    info = get_worker_info()
    if info is None:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    return max(1, cores // info.num_workers)


class DecordReader:
    """A video file opened with decord. Its frame count is the packets decord indexed when
    opening the file (for a truncated file, what is actually there)."""

    def __init__(self, path: str) -> None:
        decord = _get_decord()
        if decord is None:
            raise DecodeError(path, 'decord is not installed')
        self.path = path
        try:
            self._vr = decord.VideoReader(path, num_threads=_decode_threads())
        except Exception as exc:  # decord raises RuntimeError or DECORDError (not a RuntimeError)
            raise DecodeError(path, f'decord cannot open it ({short_reason(exc)})') from exc

    def __len__(self) -> int:
        return len(self._vr)

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (uint8 RGB ``[len, H, W, 3]``) in one ``get_batch`` of the
        unique sorted indices; DecodeError for an index beyond decord's count or any decord
        error (decord is never asked for frames it did not index: see decoding.py)."""
        idx = as_indices(indices)
        num = len(self._vr)
        uniq, inverse = np.unique(idx, return_inverse=True)
        if num == 0 or uniq[-1] >= num:
            raise DecodeError(self.path, f'index {uniq[-1]} is beyond decord\'s {num} frames')
        try:
            batch = self._vr.get_batch(uniq.tolist())
        except Exception as exc:
            raise DecodeError(self.path, f'decord failed ({short_reason(exc)})') from exc
        # decord's bridge may be switched to torch globally; accept either.
        arr = batch.asnumpy() if hasattr(batch, 'asnumpy') else np.asarray(batch)
        if arr.ndim != 4 or arr.shape[0] != len(uniq):
            raise DecodeError(self.path, f'decord returned shape {arr.shape}')
        return np.ascontiguousarray(arr[inverse], dtype=np.uint8)

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """Every indexed frame in order, ``size`` at a time."""
        num = len(self._vr)
        for lo in range(0, num, size):
            yield self.read(np.arange(lo, min(num, lo + size)))


# ----------------------------------------------------------------------------- PyAV

class PyAVReader:
    """A video file decoded with PyAV. Every call opens the container afresh and decodes
    from the start (PyAV is used for what decord can't be trusted with, not for speed)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _open(self) -> tuple[Any, Any]:
        try:
            container = av.open(self.path)
        except Exception as exc:
            raise DecodeError(self.path, f'PyAV cannot open it ({short_reason(exc)})') from exc
        if not container.streams.video:
            container.close()
            raise DecodeError(self.path, 'no video stream')
        return container, container.streams.video[0]

    def frames(self) -> Iterator[Any]:
        """Yield the decodable ``av.VideoFrame``s in order, skipping undecodable packets.

        A truncated container ends the demuxing early; the decoder is then flushed so
        frames it still buffers are not lost. The container closes when the iteration ends.
        """
        container, stream = self._open()
        try:
            packets = container.demux(stream)
            clean_end = False
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    clean_end = True  # demux's last (empty) packet already flushed the decoder
                    break
                except (av.error.FFmpegError, OSError):
                    break
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                yield from frames
            if not clean_end:
                try:
                    yield from stream.decode(None)
                except av.error.FFmpegError:
                    pass
        finally:
            container.close()

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at ``indices``, decoding up to the largest; an index past the last
        decodable frame gets that last frame. DecodeError if nothing decodes."""
        idx = as_indices(indices)
        wanted = set(np.unique(idx).tolist())
        last_wanted = max(wanted)
        got: dict[int, np.ndarray] = {}
        last_frame = None
        count = 0
        frames = self.frames()
        try:
            for frame in frames:
                if count in wanted:
                    got[count] = frame.to_ndarray(format='rgb24')
                last_frame = frame
                count += 1
                if count > last_wanted:
                    break
        finally:
            frames.close()
        if count == 0:
            raise DecodeError(self.path, 'no decodable frame')
        if last_wanted >= count:  # past the end: repeat the last decodable frame
            last = got.get(count - 1)
            if last is None:
                last = last_frame.to_ndarray(format='rgb24')
            for i in wanted:
                if i >= count:
                    got[i] = last
        uniq = np.array(sorted(got), dtype=np.int64)
        stack = np.stack([got[i] for i in uniq.tolist()])
        return np.ascontiguousarray(stack[np.searchsorted(uniq, idx)])

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """Every decodable frame in order (none repeated), ``size`` at a time."""
        buf = []
        for frame in self.frames():
            buf.append(frame.to_ndarray(format='rgb24'))
            if len(buf) == size:
                yield np.stack(buf)
                buf = []
        if buf:
            yield np.stack(buf)

    def header_frames(self) -> tuple[int, bool]:
        """(frame count the container claims, whether it is exact): the stream's count, else
        duration x frame rate (WebM headers carry no count); (-1, False) if neither is known."""
        container, stream = self._open()
        try:
            if stream.frames and stream.frames > 0:
                return int(stream.frames), True
            rate = stream.average_rate or stream.guessed_rate
            if container.duration and rate:
                return int(round(container.duration / 1e6 * float(rate))), False
            return -1, False
        finally:
            container.close()

    def count_decodable(self) -> int:
        """Frames that actually decode (all of them decoded, none converted to RGB)."""
        return sum(1 for _ in self.frames())

    def count(self) -> int:
        """The header's exact frame count, else the decodable frames."""
        header, exact = self.header_frames()
        return header if exact else self.count_decodable()


# ----------------------------------------------------------------------------- images, frame folders

def _open_image(path: str | os.PathLike, use: Callable[[Any], Any]) -> Any:
    """``use(PIL image)`` for a non-empty file; any PIL failure (OSError, SyntaxError,
    ValueError, EOFError or its decompression-bomb error) as DecodeError."""
    from PIL import Image

    path = os.fspath(path)
    check_file(path)
    try:
        with Image.open(path) as img:
            return use(img)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise DecodeError(path, f'cannot read image ({short_reason(exc)})') from exc


def read_image(path: str | os.PathLike, draft: bool = False) -> np.ndarray:
    """Decode one image file with PIL, as uint8 RGB ``[H, W, 3]`` (any mode converted).

    DecodeError for a missing, empty, non-image, corrupt or truncated file. ``draft``: let
    JPEGs decode at 1/8 scale (every byte is still read, so truncation is still found): a
    quicker check that a file decodes, not for training.
    """
    def decode(img: Any) -> np.ndarray:
        if draft:
            img.draft('RGB', (max(1, img.width // 8), max(1, img.height // 8)))
        return np.asarray(img.convert('RGB'))

    return _open_image(path, decode)


def check_image(path: str | os.PathLike) -> None:
    """DecodeError unless ``path`` is a non-empty file whose header PIL recognises (and,
    for formats that can, ``verify()`` accepts): finds empty and non-image files without
    decoding; a truncated JPEG needs :func:`read_image`."""
    _open_image(path, lambda img: img.verify())


def read_frame_folder(folder: str | os.PathLike, indices: Sequence[int] | np.ndarray,
                      template: str = '{:05d}.jpg', start: int = 1) -> np.ndarray:
    """Read JPEG frames ``template.format(i + start)`` for 0-based ``indices``.

    Returns uint8 RGB ``[len(indices), H, W, 3]``; each distinct frame is decoded once.
    Raises DecodeError for a missing or unreadable image or mismatched frame sizes.
    """
    folder = os.fspath(folder)
    idx = as_indices(indices)
    uniq, inverse = np.unique(idx, return_inverse=True)
    frames = [read_image(os.path.join(folder, template.format(i + start))) for i in uniq.tolist()]
    if len({f.shape for f in frames}) != 1:
        raise DecodeError(folder, 'frames have different sizes')
    return np.ascontiguousarray(np.stack(frames)[inverse])


def count_frame_folder(folder: str | os.PathLike, template: str = '{:05d}.jpg',
                       start: int = 1) -> int:
    """Number of consecutive frames ``template.format(start), template.format(start + 1), ...``."""
    folder = os.fspath(folder)
    try:
        names = set(os.listdir(folder))
    except OSError as exc:
        raise DecodeError(folder, f'cannot list frame folder ({short_reason(exc)})') from exc
    count = 0
    while template.format(start + count) in names:
        count += 1
    return count
