"""Loading mmengine's own checkpoints under torch's ``weights_only`` default.

Since torch 2.6 ``torch.load`` refuses any pickled class it doesn't know, and mmengine
0.10.7 stores its message hub (``HistoryBuffer``s holding numpy arrays) in every
checkpoint, so ``--resume`` fails with "Weights only load failed". Rather than switch
the check off, we allow exactly the classes mmengine's checkpoints contain.
"""
from __future__ import annotations

import collections

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

try:
    from numpy._core import multiarray
except ImportError:  # numpy < 2
    from numpy.core import multiarray


def allow_mmengine_checkpoints() -> None:
    """Register the classes found in mmengine checkpoints as safe for ``torch.load``."""
    dtypes = {type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool', 'uint8')}
    torch.serialization.add_safe_globals([
        HistoryBuffer, collections.OrderedDict, np.ndarray, np.dtype, *dtypes,
        multiarray._reconstruct, multiarray.scalar,
    ])
