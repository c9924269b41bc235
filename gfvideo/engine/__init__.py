"""mmengine glue: metrics, hooks, checkpoint loading, runner construction."""
from .hooks import PlainCheckpointHook, RNGStateHook, SkippedVideoHook
from .metrics import ClipMetric

__all__ = ['PlainCheckpointHook', 'RNGStateHook', 'SkippedVideoHook', 'ClipMetric']
