"""Classify one video or image: ``python tools/infer.py CONFIG CHECKPOINT VIDEO [--out DIR] [--budget GFLOPS]``.

VIDEO is a video file or a folder of JPEG frames, or an image file (PNG, JPEG, ...) for a
config whose test dataset is an ``ImageDataset`` (GFNet on images); its clip is made as the
config's test split makes its clips (sampling, views, test pipeline: see
``gfvideo.inference.load_clip``). Prints one JSON object: the top-5 classes, the exit taken, the frames and patches looked
at per focus step (clip slots and video frame numbers), the GFLOPs spent and the wall
time of decoding plus the model. ``--out DIR`` also writes ``DIR/<video stem>_focus.png``
(the sampled frames with the focus boxes, numbered by step), an animated GIF (not for an
image: one frame) and the JSON.
A video that can't be decoded gives one line on stderr and exit status 1; a config whose test
split doesn't fit the model (frames per clip, crop size), exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from gfvideo.compute.exits import load_thresholds
from gfvideo.data.decoding import DecodeError
from gfvideo.engine.runner import DictAction
from gfvideo.inference import InferenceError, analyse_video, default_device, draw_focus, load_model
from gfvideo.runtime import tune_malloc


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file path')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('video', help='video file or frame folder (an image file for an image config)')
    p.add_argument('--out', help='folder for <stem>_focus.png, <stem>_focus.gif (videos) and <stem>.json')
    p.add_argument('--budget', type=float, help='early exit with the thresholds tools/report.py fitted for '
                   'the nearest budget (mean GFLOPs per clip; CHECKPOINT.exits.json); default: no early exit')
    p.add_argument('--device', choices=['cpu', 'cuda'], help=f'default: {default_device()} (cuda if available)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    p.add_argument('--no-fuse', action='store_true',
                   help='run the model as trained, without folding batch norms into the convs')
    return p.parse_args()


def main() -> int:
    args = parse_args()
    tune_malloc()
    try:
        # Anything the libraries print goes to stderr: stdout carries the JSON alone.
        with contextlib.redirect_stdout(sys.stderr):
            budget = rule = None
            if args.budget is not None:
                budget, rule = load_thresholds(args.checkpoint, args.budget)
            model, cfg, names = load_model(args.config, args.checkpoint, args.device, args.cfg_options,
                                           fuse=not args.no_fuse)
            result, clip = analyse_video(model, cfg, args.video, rule, names)
            result['budget'] = budget
            if args.out:
                result['files'] = draw_focus(args.out, result, clip)
    except DecodeError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    except (InferenceError, FileNotFoundError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
