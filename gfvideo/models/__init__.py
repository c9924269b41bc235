"""Models: TSM backbones, crops, policies, aggregators, objectives, recognizers."""
from . import gfnet, objectives, ppo  # noqa: F401  (register the objectives and GFNet's parts)
from . import backbones_image  # noqa: F401  (register DenseNet, EfficientNet-B2/B3, RegNetY)
from .backbones import build_backbone, list_backbones
from .base import Recognizer
from .data_preprocessor import VideoDataPreprocessor
from .episode import Episode, Step
from .recognizer import GlanceFocusRecognizer
from .static_tsm import StaticTSM

__all__ = ['build_backbone', 'list_backbones', 'Recognizer', 'VideoDataPreprocessor', 'Episode', 'Step',
           'GlanceFocusRecognizer', 'StaticTSM']
