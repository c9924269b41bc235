"""Compute accounting: measured GFLOPs (1e9 multiply-adds) per input, one convention."""
from . import flops
from .flops import *  # noqa: F401,F403  (the public names are flops.__all__)

__all__ = flops.__all__
