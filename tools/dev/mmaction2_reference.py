"""Make tests/fixtures/mmaction2_tsm_r50.json: mmaction2's own class scores for our converted weights.

Not part of gfvideo's dependencies: mmaction2 1.2.0 needs its own virtual environment (it
pulls in a second OpenCV build that clashes with mmengine's). Two steps:

    # 1. in gfvideo's environment: deterministic weights, converted to mmaction2 naming
    python tools/dev/mmaction2_reference.py export /tmp/mmref
    # 2. in an environment with torch, mmengine 0.10.7, mmcv-lite 2.1.0, importlib_metadata and
    #    mmaction2 1.2.0 (installed with --no-deps; comment out the import of the missing ``drn``
    #    module in mmaction/models/localizers/__init__.py):
    python tools/dev/mmaction2_reference.py score /tmp/mmref tests/fixtures/mmaction2_tsm_r50.json

Step 2 builds mmaction2's ``Recognizer2D`` (``ResNetTSM`` / ``MobileNetV2TSM`` + ``TSMHead``,
174 classes, 8 segments), loads the weights with ``strict=True`` and stores the head's
scores for a seeded input tensor; ``tests/test_convert.py`` converts the same weights
back and requires the same scores.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

SIZE, WEIGHTS_SEED, INPUT_SEED = 64, 0, 1
MODELS = {
    'resnet50': dict(backbone=dict(type='ResNetTSM', depth=50, num_segments=8, norm_eval=False, pretrained=None),
                     in_channels=2048),
    'mobilenet_v2': dict(backbone=dict(type='MobileNetV2TSM', num_segments=8, is_shift=True, pretrained=None),
                         in_channels=1280),
}


def export(out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from gfvideo.models import StaticTSM
    from gfvideo.models.convert import to_mmaction2
    from tests.test_convert import deterministic
    out.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        model = deterministic(StaticTSM(num_classes=174, num_frames=8, input_size=SIZE,
                                        backbone=dict(backbone=name)), WEIGHTS_SEED)
        torch.save(to_mmaction2(model.state_dict()), out / f'{name}.pth')


def score(folder: Path, fixture: Path) -> None:
    from mmaction.registry import MODELS as MM_MODELS
    from mmaction.utils import register_all_modules
    register_all_modules()
    x = torch.randn(1, 8, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(INPUT_SEED))
    result = dict(size=SIZE, weights_seed=WEIGHTS_SEED, input_seed=INPUT_SEED, mmaction2='1.2.0', models={})
    for name, spec in MODELS.items():
        model = MM_MODELS.build(dict(type='Recognizer2D', backbone=spec['backbone'],
                                     cls_head=dict(type='TSMHead', num_classes=174, in_channels=spec['in_channels'],
                                                   num_segments=8))).eval()
        model.load_state_dict(torch.load(folder / f'{name}.pth', weights_only=True), strict=True)
        with torch.no_grad():
            scores = model.cls_head(model.backbone(x.view(-1, 3, SIZE, SIZE)), num_segs=8)[0]
        result['models'][name] = [round(float(v), 7) for v in scores]
    fixture.write_text(json.dumps(result, indent=1) + '\n')


if __name__ == '__main__':
    if sys.argv[1] == 'export':
        export(Path(sys.argv[2]))
    else:
        score(Path(sys.argv[2]), Path(sys.argv[3]))
