"""mmengine glue: metrics, hooks, checkpoint loading and saving, runner construction."""
from .atomic import AtomicCheckpointHook, AtomicLocalBackend, CheckpointWriteError, atomic_write
from .hooks import PlainCheckpointHook, RNGStateHook, SkippedVideoHook
from .loops import ResumableEpochBasedTrainLoop
from .metrics import ClipMetric
from .optim import GlanceFocusOptimWrapperConstructor
from .record import RunRecordHook
from .resume import CheckpointError
from .safety import NonFiniteLossHook

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend', 'atomic_write', 'CheckpointError', 'CheckpointWriteError',
           'PlainCheckpointHook', 'RNGStateHook', 'SkippedVideoHook', 'ResumableEpochBasedTrainLoop', 'ClipMetric',
           'GlanceFocusOptimWrapperConstructor', 'NonFiniteLossHook', 'RunRecordHook']
