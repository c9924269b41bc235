"""mmengine glue: metrics, hooks, checkpoint loading, runner construction."""
from .checkpoint import allow_mmengine_checkpoints
from .hooks import RNGStateHook
from .metrics import ClipMetric

allow_mmengine_checkpoints()

__all__ = ['allow_mmengine_checkpoints', 'RNGStateHook', 'ClipMetric']
