"""Convert checkpoints between gfvideo, mmaction2, TSM-official, torchvision and GFNet naming.

    python tools/convert_checkpoint.py SRC DST --from mmaction2 [--to gfvideo]
    python tools/convert_checkpoint.py SRC DST --from tsm_official
    python tools/convert_checkpoint.py SRC DST --from torchvision --prefix focus.backbone.
    python tools/convert_checkpoint.py SRC DST --from gfvideo --to torchvision [--prefix backbone.]
    python tools/convert_checkpoint.py SRC.pth.tar DST --from gfnet   # GFNet-Pytorch (ResNet-50)

A gfvideo output is ``{'state_dict': ..., 'meta': {...}}``: use it with ``--load-from`` or
``load_from`` (or as a test checkpoint for the static TSM configs). Keys are renamed only;
a key the converter doesn't know stops it, naming the key. From GFNet, ``meta['model']``
holds the model config the tensors load into, and the checkpoint's early-exit thresholds
(if stored) go to ``DST.exits.json``, the sidecar ``tools/test.py --budget`` reads.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gfvideo.compute.exit_scores import ExitRule  # noqa: E402
from gfvideo.compute.exit_sidecar import sidecar_json, sidecar_path  # noqa: E402
from gfvideo.models.convert import CONVERTERS, FORMATS, ConversionError, load_state  # noqa: E402
from gfvideo.models.convert_gfnet import from_gfnet, gfnet_config, gfnet_thresholds  # noqa: E402

SOURCES = (*FORMATS, 'gfnet', 'gfvideo')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('src', help='checkpoint to read')
    p.add_argument('dst', help='checkpoint to write')
    p.add_argument('--from', dest='source', required=True, choices=SOURCES)
    p.add_argument('--to', dest='target', default='gfvideo', choices=(*FORMATS, 'gfvideo'))
    p.add_argument('--prefix', default='backbone.',
                   help='torchvision conversions: where the backbone lives in the gfvideo model')
    args = p.parse_args(argv)
    convert = CONVERTERS.get((args.source, args.target))
    if (args.source, args.target) == ('gfnet', 'gfvideo'):
        convert = from_gfnet
    if convert is None:
        p.error(f'no converter from {args.source} to {args.target}; one side must be gfvideo')
    try:
        state = load_state(args.src)
    except (OSError, RuntimeError) as exc:
        print(f'error: cannot read {args.src}: {exc}', file=sys.stderr)
        return 1
    kwargs = {'prefix': args.prefix} if 'torchvision' in (args.source, args.target) else {}
    try:
        out = convert(state, **kwargs)
        meta = dict(converted_from=args.source, source=os.path.abspath(args.src))
        thresholds = None
        if args.source == 'gfnet':
            meta['model'] = gfnet_config(state)
            thresholds = gfnet_thresholds(state)
    except ConversionError as exc:
        print(f'error: {args.src}: {exc.args[0]}', file=sys.stderr)
        return 1
    if args.target == 'gfvideo':
        out = dict(state_dict=out, meta=meta)
    torch.save(out, args.dst)
    if thresholds:
        sidecar = sidecar_path(args.dst)
        sidecar.write_text(sidecar_json({b: ExitRule(t) for b, t in thresholds.items()}, fit='gfnet') + '\n')
        print(f'{len(thresholds)} early-exit threshold sets -> {sidecar}')
    print(f'{args.src} ({args.source}) -> {args.dst} ({args.target}): {len(state)} tensors')
    return 0


if __name__ == '__main__':
    sys.exit(main())
