"""mmengine glue: metrics, hooks, checkpoint loading and saving, runner construction."""
from .atomic import AtomicCheckpointHook, AtomicLocalBackend, atomic_write
from .hooks import PlainCheckpointHook, RNGStateHook, SkippedVideoHook
from .metrics import ClipMetric
from .record import RunRecordHook
from .safety import NonFiniteLossHook

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend', 'atomic_write', 'PlainCheckpointHook', 'RNGStateHook',
           'SkippedVideoHook', 'ClipMetric', 'NonFiniteLossHook', 'RunRecordHook']
