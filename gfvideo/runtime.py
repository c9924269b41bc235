"""Process-wide settings applied before heavy work (the command-line tools, data workers)."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def tune_malloc() -> bool:
    """Stop glibc's malloc from returning every large tensor's memory to the OS.

    By default each allocation above a (dynamic) threshold is its own ``mmap`` and is
    unmapped when freed, so every training step page-faults its activations in again:
    on 2 CPU cores that made a demo training step several times slower (2.5-2.7x measured at
    batch 8 for inference: docs/references.md, "Environment notes"). Same effect as
    ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=...``, but set
    from inside the process so users need no environment variables. Returns whether it
    applied (glibc only).
    """
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 36))
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False


def channels_last(model: 'torch.nn.Module') -> 'torch.nn.Module':
    """Store every conv weight channels-last (NHWC), in place; returns ``model``.

    Convolutions then run in NHWC whatever their input's layout (oneDNN on CPU, cuDNN on
    GPU pick the layout from either operand), without the per-call reorders of NCHW.
    """
    import torch
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last)
    return model


def cpu_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what ``platform`` knows), for timing tables."""
    import platform
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
