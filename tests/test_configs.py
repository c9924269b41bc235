"""Every config in configs/ builds its model and runs one clip; reference GFLOPs of the baselines."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import gfvideo.models  # noqa: F401  (registers the models)
from gfvideo.registry import MODELS

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_and_runs_one_clip(config):
    cfg = Config.fromfile(ROOT / config)
    with DefaultScope.overwrite_default_scope('gfvideo'):
        model = MODELS.build(cfg.model).eval()
    n, s = cfg.model.num_frames, cfg.model.input_size
    clip = torch.randint(0, 256, (1, n, 3, s, s), dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=clip, data_samples=dict(labels=torch.tensor([0]))), False)
    with torch.no_grad():
        result = model(**data, mode='predict')[0]
    assert result['pred_scores'].shape == (cfg.model.num_classes,)
    assert result['gflops'] > 0


def test_tsm_r50_reference_gflops():
    """TSM-R50, 8 frames at 224, 174 classes: 32.88 GFLOPs in mmengine's convention (REFERENCE.md §4)."""
    from gfvideo.models import StaticTSM
    model = StaticTSM(num_classes=174, num_frames=8, input_size=224, backbone=dict(backbone='resnet50'))
    assert model.gflops() == pytest.approx(32.88, rel=0.005)
