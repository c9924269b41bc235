"""Export a trained model to ONNX and check it against PyTorch (onnxruntime).

    python tools/export_onnx.py CONFIG CHECKPOINT --out DIR

A static TSM config writes ``DIR/static_tsm.onnx`` (normalised float clips -> logits); a
glance-and-focus config writes ``DIR/glance.onnx`` and ``DIR/focus.onnx`` (the backbones;
the policy, exits and aggregation stay in Python). Prints each file with the max abs
difference from PyTorch on a random input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gfvideo.engine.runner import DictAction  # noqa: E402
from gfvideo.export import export_model  # noqa: E402
from gfvideo.inference import load_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    args = p.parse_args(argv)
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        print('error: ONNX export needs the onnx package: pip install onnx onnxruntime', file=sys.stderr)
        return 1
    model, _, _ = load_model(args.config, args.checkpoint, device="cpu", cfg_options=args.cfg_options)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer warnings about Python-side shape checks
        exported = export_model(model, args.out)
    print(json.dumps([dict(path=e.path, max_abs_diff=e.max_abs_diff) for e in exported], indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
