"""Opening clips: :class:`ClipSource`, the one way gfvideo reads a video file or a frame folder.

The dataset, single-video inference (``tools/infer.py``), ``check_videos`` and
``extract_frames`` all read through it; the readers it uses are in ``readers.py``.

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
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .readers import (DecodeError, DecordReader, PyAVReader, as_indices, check_file,
                       count_frame_folder, decord_available, read_frame_folder)

__all__ = ['BACKENDS', 'ClipSource', 'DecodeError', 'read_frames', 'probe_num_frames',
           'read_clip', 'read_frame_folder', 'count_frame_folder']

BACKENDS = ('auto', 'decord', 'pyav')


class ClipSource:
    """A video file or a JPEG frame folder, open for reading frames.

    Args:
        path: a video file, or a folder of frames ``filename_tmpl.format(i + frame_start)``.
        backend: ``'auto'`` (decord, PyAV whenever decord can't be trusted), ``'decord'``
            (never falls back) or ``'pyav'``; frame folders ignore it.
        num_frames: the frame count when it is already known (rawframe lists); else
            probed on first use of :attr:`num_frames`.
        filename_tmpl, frame_start: frame names in folders (1-based ``00001.jpg``).
        folders: whether ``path`` may be a frame folder (False: video files only, a folder
            is 'not a regular file').

    Raises DecodeError at once for a missing, empty or non-regular video file, and for a
    file decord can't open under ``backend='decord'``; other problems surface when frames
    are counted or read. Use it as a context manager (or call :meth:`close`) to release
    the decoder early.
    """

    def __init__(self, path: str | os.PathLike, backend: str = 'auto', *,
                 num_frames: int | None = None, filename_tmpl: str = '{:05d}.jpg',
                 frame_start: int = 1, folders: bool = True) -> None:
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
        self.path = os.fspath(path)
        self.requested_backend = backend
        self.filename_tmpl = filename_tmpl
        self.frame_start = frame_start
        self._num = num_frames
        self.is_folder = folders and os.path.isdir(self.path)
        self._decord: DecordReader | None = None
        self._pyav: PyAVReader | None = None
        if not self.is_folder:
            check_file(self.path)
            self._pyav = PyAVReader(self.path)
            self._decord = self._open_decord()

    def _open_decord(self) -> DecordReader | None:
        """An open decord reader with at least one frame, or None to use PyAV instead."""
        backend = self.requested_backend
        if backend == 'pyav' or (backend == 'auto' and not decord_available()):
            return None
        try:
            reader = DecordReader(self.path)
        except DecodeError:
            if backend == 'decord':
                raise
            return None
        if len(reader) > 0:
            return reader
        if backend == 'decord':
            raise DecodeError(self.path, 'decord found no frames')
        return None

    @property
    def backend(self) -> str:
        """What serves reads now: ``'frames'`` (a folder), ``'decord'`` or ``'pyav'``."""
        if self.is_folder:
            return 'frames'
        return 'decord' if self._decord is not None else 'pyav'

    @property
    def num_frames(self) -> int:
        """Frames in the clip: the given count, else the folder's frames, decord's count, or
        PyAV's exact header count or decoded count. Container headers can over-report;
        :meth:`read` tolerates that by repeating the last decodable frame. DecodeError
        when there is no frame."""
        if self._num is None:
            if self.is_folder:
                num = count_frame_folder(self.path, self.filename_tmpl, self.frame_start)
                if num == 0:
                    raise DecodeError(self.path, 'frame folder has no frames')
            elif self._decord is not None:
                num = len(self._decord)
            else:
                num = self._pyav.count()
                if num <= 0:
                    raise DecodeError(self.path, 'no decodable frame')
            self._num = num
        return self._num

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Decode the frames at 0-based ``indices`` (any order, repeats allowed): uint8 RGB
        ``[len(indices), H, W, 3]``.

        Only the needed frames are decoded: decord reads the unique sorted indices in one
        ``get_batch``; PyAV decodes sequentially and stops after the largest wanted index.
        An index past the last decodable frame gets that last frame. DecodeError for
        corrupt or stream-less files and files without a decodable frame.
        """
        idx = as_indices(indices)
        if self.is_folder:
            return read_frame_folder(self.path, idx, self.filename_tmpl, self.frame_start)
        if self._decord is not None:
            try:
                return self._decord.read(idx)
            except DecodeError:
                if self.requested_backend == 'decord':
                    raise
        return self._pyav.read(idx)

    def chunks(self, size: int = 32, restart: Callable[[], None] | None = None) -> Iterator[np.ndarray]:
        """Every frame in order, ``size`` at a time (uint8 RGB ``[<= size, H, W, 3]``).

        With decord: the frames it indexed. When decord fails under ``'auto'``, every
        decodable frame comes again from PyAV, from the start (none repeated); ``restart()``
        is called first so the caller can drop what it received. Without ``restart`` a
        failure after the first chunk raises DecodeError instead.
        """
        if self.is_folder:
            num = self.num_frames
            for lo in range(0, num, size):
                yield self.read(np.arange(lo, min(num, lo + size)))
            return
        if self._decord is not None:
            sent = False
            try:
                for chunk in self._decord.chunks(size):
                    sent = True
                    yield chunk
                return
            except DecodeError:
                if self.requested_backend == 'decord' or (sent and restart is None):
                    raise
            if sent:
                restart()
        yield from self._pyav.chunks(size)

    def header_frames(self) -> tuple[int, bool]:
        """(frame count the container claims, whether it is exact; -1 when unknown), read
        with PyAV; a folder's count is exact."""
        if self.is_folder:
            return self.num_frames, True
        return self._pyav.header_frames()

    def count_decodable(self) -> int:
        """Frames that actually decode, by decoding all of them with PyAV (a folder: its count)."""
        if self.is_folder:
            return self.num_frames
        return self._pyav.count_decodable()

    def close(self) -> None:
        """Release the decord reader (PyAV opens and closes a container per call)."""
        self._decord = None

    def __enter__(self) -> ClipSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.path!r}, backend={self.backend!r})'


def read_frames(path: str | os.PathLike, indices: Sequence[int] | np.ndarray,
                backend: str = 'auto') -> np.ndarray:
    """``ClipSource(path, backend).read(indices)``."""
    idx = as_indices(indices)
    with ClipSource(path, backend) as source:
        return source.read(idx)


def probe_num_frames(path: str | os.PathLike, backend: str = 'auto') -> int:
    """``ClipSource(path, backend).num_frames``."""
    with ClipSource(path, backend) as source:
        return source.num_frames


def read_clip(path: str | os.PathLike, choose: Callable[[int], Sequence[int] | np.ndarray],
              backend: str = 'auto') -> tuple[np.ndarray, np.ndarray, int]:
    """Count the frames, take indices from ``choose(num_frames)`` and read them, with one
    :class:`ClipSource` (decord opens and indexes the file once). Returns
    ``(frames, indices, num_frames)``."""
    with ClipSource(path, backend) as source:
        num = source.num_frames
        idx = as_indices(choose(num))
        return source.read(idx), idx, num
