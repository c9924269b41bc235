"""Reading frames from video files and frame folders.

Two video backends: decord (fast seeking) and PyAV (sequential, tolerant). ``'auto'``
uses decord and falls back to PyAV whenever decord cannot be trusted with a request.

Why the fallback is shaped this way: decord's ``get_batch`` seeks and then skips
frames until it reaches the wanted one; when a file holds fewer decodable frames
than decord counted, that skip loop can spin forever in native code holding the
GIL (dmlc/decord#373, #375), which no Python timeout can stop. So decord is only
asked for indices below its own count (the packets it indexed when opening the
file, which for truncated files is what is actually there), and any decord error
hands the request to PyAV. PyAV decodes packet by packet, skips packets it cannot
decode, stops at the end of what exists and repeats the last decodable frame for
indices past it. What this cannot catch is a file whose packets are all present
but partly undecodable in a way that makes decord spin rather than raise; for a
dataset known to hold such files, use ``backend='pyav'``.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import av
import numpy as np

__all__ = ['DecodeError', 'read_frames', 'probe_num_frames', 'read_clip',
           'read_frame_folder', 'count_frame_folder']

_BACKENDS = ('auto', 'decord', 'pyav')


class DecodeError(RuntimeError):
    """A video (or frame folder) could not be read: names the path and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f'cannot decode {self.path}: {reason}')

    def __reduce__(self):  # picklable across data-loader worker processes
        return type(self), (self.path, self.reason)


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


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise DecodeError(path, 'file not found')
    if not os.path.isfile(path):
        raise DecodeError(path, 'not a regular file')
    if os.path.getsize(path) == 0:
        raise DecodeError(path, 'zero-byte file')


def _check_backend(backend: str) -> None:
    if backend not in _BACKENDS:
        raise ValueError(f'backend must be one of {_BACKENDS}, got {backend!r}')


def _as_indices(indices: Sequence[int] | np.ndarray) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        raise ValueError('indices must not be empty')
    if idx.min() < 0:
        raise ValueError(f'frame indices must be >= 0, got {idx.min()}')
    return idx


# ----------------------------------------------------------------------------- decord

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


def _decord_open(path: str) -> Any:
    decord = _get_decord()
    if decord is None:
        raise DecodeError(path, 'decord is not installed')
    try:
        return decord.VideoReader(path, num_threads=_decode_threads())
    except Exception as exc:  # decord raises RuntimeError or DECORDError (not a RuntimeError)
        raise DecodeError(path, f'decord cannot open it ({_short(exc)})') from exc


def _decord_read(vr: Any, path: str, idx: np.ndarray) -> np.ndarray:
    """Read ``idx`` with an open decord reader; DecodeError if decord can't be trusted."""
    num = len(vr)
    uniq, inverse = np.unique(idx, return_inverse=True)
    if num == 0 or uniq[-1] >= num:
        raise DecodeError(path, f'index {uniq[-1]} is beyond decord\'s {num} frames')
    try:
        batch = vr.get_batch(uniq.tolist())
    except Exception as exc:
        raise DecodeError(path, f'decord failed ({_short(exc)})') from exc
    # decord's bridge may be switched to torch globally; accept either.
    arr = batch.asnumpy() if hasattr(batch, 'asnumpy') else np.asarray(batch)
    if arr.ndim != 4 or arr.shape[0] != len(uniq):
        raise DecodeError(path, f'decord returned shape {arr.shape}')
    return np.ascontiguousarray(arr[inverse], dtype=np.uint8)


def _decord_reader(path: str, backend: str) -> Any:
    """An open decord reader with at least one frame, or None to use PyAV instead."""
    if backend == 'pyav' or (backend == 'auto' and _get_decord() is None):
        return None
    try:
        vr = _decord_open(path)
    except DecodeError:
        if backend == 'decord':
            raise
        return None
    if len(vr) > 0:
        return vr
    if backend == 'decord':
        raise DecodeError(path, 'decord found no frames')
    return None


# ----------------------------------------------------------------------------- PyAV

def _pyav_open(path: str) -> tuple[Any, Any]:
    try:
        container = av.open(path)
    except Exception as exc:
        raise DecodeError(path, f'PyAV cannot open it ({_short(exc)})') from exc
    if not container.streams.video:
        container.close()
        raise DecodeError(path, 'no video stream')
    return container, container.streams.video[0]


def _pyav_frames(container: Any, stream: Any):
    """Yield decodable frames in order, skipping undecodable packets.

    A truncated container ends the demuxing early; the decoder is then flushed so
    frames it still buffers are not lost.
    """
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


def _pyav_read(path: str, idx: np.ndarray) -> np.ndarray:
    wanted = set(np.unique(idx).tolist())
    last_wanted = max(wanted)
    got: dict[int, np.ndarray] = {}
    last_frame = None
    count = 0
    container, stream = _pyav_open(path)
    try:
        for frame in _pyav_frames(container, stream):
            if count in wanted:
                got[count] = frame.to_ndarray(format='rgb24')
            last_frame = frame
            count += 1
            if count > last_wanted:
                break
        if count == 0:
            raise DecodeError(path, 'no decodable frame')
        if last_wanted >= count:  # past the end: repeat the last decodable frame
            last = got.get(count - 1)
            if last is None:
                last = last_frame.to_ndarray(format='rgb24')
            for i in wanted:
                if i >= count:
                    got[i] = last
    finally:
        container.close()
    uniq = np.array(sorted(got), dtype=np.int64)
    stack = np.stack([got[i] for i in uniq.tolist()])
    return np.ascontiguousarray(stack[np.searchsorted(uniq, idx)])


def _pyav_count(path: str) -> int:
    container, stream = _pyav_open(path)
    try:
        if stream.frames and stream.frames > 0:
            return int(stream.frames)
        return sum(1 for _ in _pyav_frames(container, stream))
    finally:
        container.close()


def _short(exc: BaseException, limit: int = 200) -> str:
    text = ' '.join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + '...'


# ----------------------------------------------------------------------------- public

def read_frames(path: str | os.PathLike, indices: Sequence[int] | np.ndarray,
                backend: str = 'auto') -> np.ndarray:
    """Decode the frames at 0-based ``indices`` (any order, repeats allowed).

    Returns uint8 RGB ``[len(indices), H, W, 3]``. Only the needed frames are
    decoded: decord reads the unique sorted indices in one ``get_batch``; PyAV
    decodes sequentially and stops after the largest wanted index. An index past
    the last decodable frame gets that last frame. ``backend='decord'`` never falls
    back (indices beyond decord's count raise DecodeError). Raises DecodeError for
    missing, empty, corrupt or stream-less files and files without a decodable frame.
    """
    path = os.fspath(path)
    _check_backend(backend)
    idx = _as_indices(indices)
    _check_file(path)
    vr = _decord_reader(path, backend)
    if vr is not None:
        try:
            return _decord_read(vr, path, idx)
        except DecodeError:
            if backend == 'decord':
                raise
    return _pyav_read(path, idx)


def probe_num_frames(path: str | os.PathLike, backend: str = 'auto') -> int:
    """Number of frames: decord's count, else PyAV's header count, else a decode count.

    Container headers can over-report; ``read_frames`` tolerates that by repeating
    the last decodable frame. Raises DecodeError when the file can't be opened or
    has no decodable frame.
    """
    path = os.fspath(path)
    _check_backend(backend)
    _check_file(path)
    vr = _decord_reader(path, backend)
    if vr is not None:
        return len(vr)
    num = _pyav_count(path)
    if num <= 0:
        raise DecodeError(path, 'no decodable frame')
    return num


def read_clip(path: str | os.PathLike, choose: Callable[[int], Sequence[int] | np.ndarray],
              backend: str = 'auto') -> tuple[np.ndarray, np.ndarray, int]:
    """Count the frames, take indices from ``choose(num_frames)`` and read them.

    Returns ``(frames, indices, num_frames)``. With decord the container is opened
    and indexed once instead of once for probing and once for reading. Fallback
    rules and errors are those of ``read_frames``.
    """
    path = os.fspath(path)
    _check_backend(backend)
    _check_file(path)
    vr = _decord_reader(path, backend)
    if vr is not None:
        num = len(vr)
        idx = _as_indices(choose(num))
        try:
            return _decord_read(vr, path, idx), idx, num
        except DecodeError:
            if backend == 'decord':
                raise
            return _pyav_read(path, idx), idx, num
    num = probe_num_frames(path, backend='pyav')
    idx = _as_indices(choose(num))
    return _pyav_read(path, idx), idx, num


def read_frame_folder(folder: str | os.PathLike, indices: Sequence[int] | np.ndarray,
                      template: str = '{:05d}.jpg', start: int = 1) -> np.ndarray:
    """Read JPEG frames ``template.format(i + start)`` for 0-based ``indices``.

    Returns uint8 RGB ``[len(indices), H, W, 3]``; each distinct frame is decoded once.
    Raises DecodeError for a missing or unreadable image or mismatched frame sizes.
    """
    from PIL import Image

    folder = os.fspath(folder)
    idx = _as_indices(indices)
    uniq, inverse = np.unique(idx, return_inverse=True)
    frames = []
    for i in uniq.tolist():
        file = os.path.join(folder, template.format(i + start))
        try:
            with Image.open(file) as img:
                frames.append(np.asarray(img.convert('RGB')))
        except (OSError, ValueError) as exc:
            raise DecodeError(file, f'cannot read frame ({_short(exc)})') from exc
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
        raise DecodeError(folder, f'cannot list frame folder ({_short(exc)})') from exc
    count = 0
    while template.format(start + count) in names:
        count += 1
    return count
