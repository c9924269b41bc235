"""Compute accounting: measured GFLOPs (1e9 multiply-adds) per input, one convention."""
from .flops import (EXTRA_HANDLES, CostTable, FlopCountError, FlopReport, analyze_flops,
                    count_gflops)

__all__ = [
    "EXTRA_HANDLES",
    "CostTable",
    "FlopCountError",
    "FlopReport",
    "analyze_flops",
    "count_gflops",
]
