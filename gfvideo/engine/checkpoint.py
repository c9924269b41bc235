"""Checkpoints that ``torch.load(weights_only=True)`` accepts.

Since torch 2.6 ``torch.load`` refuses pickled classes it doesn't know, and mmengine
0.10.7 stores its message hub as ``HistoryBuffer`` objects (numpy arrays, and bound
classmethods pickled through ``getattr``) in every checkpoint, so ``--resume`` fails with
"Weights only load failed". Allowing ``getattr`` would switch the safety check off in
effect, so instead the message hub is stored as tensors and plain types
(:func:`plain_message_hub`) and rebuilt on load (:func:`restore_message_hub`); see
``PlainCheckpointHook``.
"""
from __future__ import annotations

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_MARK = '__history_buffer__'


def plain_message_hub(state: dict) -> dict:
    """mmengine's message-hub state dict with every value a tensor or a plain Python type."""
    scalars = {name: {_MARK: True, 'log': torch.from_numpy(np.asarray(buf._log_history, dtype=np.float64)),
                      'count': torch.from_numpy(np.asarray(buf._count_history, dtype=np.float64)),
                      'max_length': int(buf.max_length)}
               for name, buf in state['log_scalars'].items()}
    runtime = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in state['runtime_info'].items()}
    return dict(state, log_scalars=scalars, runtime_info=runtime, resumed_keys=dict(state['resumed_keys']))


def restore_message_hub(state: dict) -> dict:
    """Inverse of :func:`plain_message_hub` (states already holding HistoryBuffers pass through)."""
    scalars = {}
    for name, buf in state['log_scalars'].items():
        if isinstance(buf, dict) and buf.get(_MARK):
            buf = HistoryBuffer(buf['log'].numpy().tolist(), buf['count'].numpy().tolist(), buf['max_length'])
        scalars[name] = buf
    return dict(state, log_scalars=scalars)
