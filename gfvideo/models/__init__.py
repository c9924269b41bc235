"""Models: TSM backbones, crops, locators, aggregator, recognizers."""
from .backbones import build_backbone, list_backbones
from .data_preprocessor import VideoDataPreprocessor
from .recognizer import GlanceFocusRecognizer
from .static_tsm import StaticTSM

__all__ = ['build_backbone', 'list_backbones', 'VideoDataPreprocessor', 'GlanceFocusRecognizer', 'StaticTSM']
