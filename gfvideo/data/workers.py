"""A process pool whose tasks have a wall-clock limit: a task over it has its worker killed.

``concurrent.futures`` and ``multiprocessing.Pool`` cannot kill one stuck task: a
decoder spinning in native code (decord can, see decoding.py) would hold its worker,
and the run, forever. Here each worker is a process with its own pipe; the parent
waits on all pipes with a deadline, kills a worker whose task is over time (or which
died), reports that task and starts a fresh worker in its place.
"""
from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ['TaskResult', 'run_tasks']


@dataclass
class TaskResult:
    """The outcome of ``func(item)``: ``status`` is ``'ok'`` (``value`` set), ``'error'``
    (``error`` holds the exception text), ``'timeout'`` or ``'crashed'`` (the worker died)."""

    item: Any
    status: str
    value: Any = None
    error: str = ''


def _worker(func: Callable[[Any], Any], conn: Connection,
            initializer: Callable[[], None] | None) -> None:
    if initializer is not None:
        initializer()
    while True:
        try:
            item = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if item is None:
            return
        try:
            conn.send(('ok', func(item), ''))
        except Exception as exc:  # reported to the parent, which goes on with the next item
            conn.send(('error', None, f'{type(exc).__name__}: {exc}'))


def _context() -> Any:
    # fork starts workers in milliseconds and needs no picklable func; spawn elsewhere.
    methods = mp.get_all_start_methods()
    return mp.get_context('fork' if 'fork' in methods else 'spawn')


class _Slot:
    def __init__(self, ctx: Any, func: Callable[[Any], Any],
                 initializer: Callable[[], None] | None) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(func, child, initializer), daemon=True)
        self.proc.start()
        child.close()
        self.item: Any = None
        self.busy = False
        self.deadline = float('inf')

    def submit(self, item: Any, timeout: float | None) -> None:
        self.item, self.busy = item, True
        self.deadline = time.monotonic() + timeout if timeout else float('inf')
        self.conn.send(item)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def run_tasks(func: Callable[[Any], Any], items: Iterable[Any], workers: int = 1,
              timeout: float | None = None,
              initializer: Callable[[], None] | None = None) -> Iterator[TaskResult]:
    """Run ``func`` on each item in ``workers`` processes; yield results as they finish.

    A task running longer than ``timeout`` seconds is killed with its worker and
    yielded as ``'timeout'``. ``workers=0`` runs in this process (no timeout; for
    debugging). ``initializer`` runs once in each worker process (not with
    ``workers=0``). ``func`` should catch its expected failures and return them;
    exceptions become ``'error'`` results.
    """
    if workers <= 0:
        for item in items:
            try:
                yield TaskResult(item, 'ok', func(item))
            except Exception as exc:
                yield TaskResult(item, 'error', error=f'{type(exc).__name__}: {exc}')
        return
    if isinstance(items, Sized):
        workers = max(1, min(workers, len(items)))
    ctx = _context()
    pending = iter(items)
    slots = [_Slot(ctx, func, initializer) for _ in range(workers)]
    exhausted = False
    try:
        while True:
            for slot in slots:
                if not slot.busy and not exhausted:
                    item = next(pending, _END)
                    if item is _END:
                        exhausted = True
                    else:
                        slot.submit(item, timeout)
            busy = [s for s in slots if s.busy]
            if not busy:
                return
            wait_for = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            ready = wait([s.conn for s in busy], timeout=min(wait_for, 3600.0))
            for i, slot in enumerate(slots):
                if not slot.busy:
                    continue
                if slot.conn in ready:
                    try:
                        status, value, error = slot.conn.recv()
                    except (EOFError, OSError):
                        slot.kill()
                        result = TaskResult(slot.item, 'crashed',
                                            error=f'worker exited with code {slot.proc.exitcode}')
                        slots[i] = _Slot(ctx, func, initializer)
                        yield result
                        continue
                    slot.busy = False
                    yield TaskResult(slot.item, status, value, error)
                elif time.monotonic() >= slot.deadline:
                    result = TaskResult(slot.item, 'timeout', error=f'over {timeout:g} s')
                    slot.kill()
                    slots[i] = _Slot(ctx, func, initializer)
                    yield result
    finally:
        for slot in slots:
            if slot.busy:
                slot.kill()
            else:
                slot.close()


_END = object()
