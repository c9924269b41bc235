"""Every config in configs/ builds its model and runs one clip; reference GFLOPs of the baselines.

Some configs are only built, on the meta device (no weights, no run), because a twin with the
same networks runs: stages 1 and 2 of a three-stage recipe (their stage 3 runs), and the
Something-Something V1 and Kinetics-400 variants of a V2 config (the V2 one runs).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import gfvideo.models  # noqa: F401  (registers the models)
from gfvideo.compute.costs import model_exit_costs
from gfvideo.registry import MODELS

ROOT = Path(__file__).resolve().parent.parent
# GFLOPs per exit recorded before the core redesign (tests/test_golden.py)
GOLDEN_GFLOPS = json.loads((ROOT / 'tests' / 'fixtures' / 'golden' / 'golden.json').read_text())['config_gflops']
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


def _runs_as(config: str) -> str:
    """The config whose run covers ``config``'s networks (itself if none)."""
    twin = config.replace('_stage1.py', '_stage3.py').replace('_stage2.py', '_stage3.py')
    twin = twin.replace('_sthv1', '_sthv2').replace('_kinetics400', '_sthv2')
    return twin if twin in CONFIGS else config


BUILD_ONLY = [c for c in CONFIGS if _runs_as(c) != c and c not in GOLDEN_GFLOPS]


@pytest.mark.parametrize('config', BUILD_ONLY)
def test_config_builds(config):
    cfg = Config.fromfile(ROOT / config)
    # torchvision's RegNet computes its widths with tensors, which the meta device can't read
    device = 'cpu' if 'regnet' in config else 'meta'
    with DefaultScope.overwrite_default_scope('gfvideo'), torch.device(device):
        model = MODELS.build(cfg.model)
    assert model.num_classes == cfg.model.num_classes


@pytest.mark.parametrize('config', [c for c in CONFIGS if c not in BUILD_ONLY])
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
    if config in GOLDEN_GFLOPS:
        assert model_exit_costs(model) == pytest.approx(GOLDEN_GFLOPS[config], rel=1e-9)


def test_tsm_r50_reference_gflops():
    """TSM-R50, 8 frames at 224, 174 classes: 32.88 GFLOPs in mmengine's convention
    (docs/references.md, "FLOPs reference")."""
    from gfvideo.models import StaticTSM
    model = StaticTSM(num_classes=174, num_frames=8, input_size=224, backbone=dict(backbone='resnet50'))
    assert model.gflops() == pytest.approx(32.88, rel=0.005)


@pytest.mark.parametrize('dataset', ['sthv1', 'sthv2', 'kinetics400'])
def test_full_size_config_runs_a_clip_from_its_list_format(dataset, tiny_demo, tmp_path):
    """The dataset side of the full-size configs: a list in the format build_lists.py writes."""
    import numpy as np
    from PIL import Image

    from gfvideo.data.decoding import read_frames
    from gfvideo.registry import DATASETS
    cfg = Config.fromfile(ROOT / f'configs/glance_focus/gf_mbv2_r50_p128_{dataset}.py')
    lines = (tiny_demo / 'test.txt').read_text().splitlines()[:2]
    if dataset == 'sthv1':  # JPEG frame folders: "frame_dir num_frames label"
        rows = []
        for line in lines:
            path, label = line.split()
            folder = tmp_path / Path(path).stem
            folder.mkdir()
            for i, frame in enumerate(read_frames(tiny_demo / path, range(8)), start=1):
                Image.fromarray(frame).save(folder / f'{i:05d}.jpg')
            rows.append(f'{folder.name} 8 {label}')
        (tmp_path / 'list.txt').write_text('\n'.join(rows) + '\n')
        prefix = tmp_path
    else:
        (tmp_path / 'list.txt').write_text('\n'.join(lines) + '\n')
        prefix = tiny_demo
    for split in ('train', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        ds_cfg.update(ann_file=str(tmp_path / 'list.txt'), data_prefix=str(prefix),
                      class_names_file=str(tiny_demo / 'classes.txt'))
        with DefaultScope.overwrite_default_scope('gfvideo'):
            ds = DATASETS.build(ds_cfg)
        sample = ds[(0, 1)] if split == 'train' else ds[1]
        assert sample['inputs'].shape == (8, 3, 224, 224) and sample['inputs'].dtype == torch.uint8
    with DefaultScope.overwrite_default_scope('gfvideo'):
        model = MODELS.build(cfg.model).eval()
    data = model.data_preprocessor(dict(inputs=sample['inputs'][None],
                                        data_samples=dict(labels=torch.tensor([sample['label']]))), False)
    with torch.no_grad():
        assert model(**data, mode='predict')[0]['pred_scores'].shape == (cfg.model.num_classes,)
    assert np.isfinite(model.exit_costs()).all()


def test_two_clips_three_crops_test_config(tiny_demo, tmp_path):
    """TSM's 2 clips x 3 crops protocol: 6 views per clip, one averaged prediction."""
    from gfvideo.registry import DATASETS
    cfg = Config.fromfile(ROOT / 'configs/tsm/tsm_r50_8f_sthv2_test_2clips3crops.py')
    (tmp_path / 'list.txt').write_text((tiny_demo / 'test.txt').read_text().splitlines()[0] + '\n')
    cfg.test_dataloader.dataset.update(ann_file=str(tmp_path / 'list.txt'), data_prefix=str(tiny_demo),
                                       class_names_file=str(tiny_demo / 'classes.txt'))
    cfg.model.backbone.update(backbone='resnet18', width=8)
    with DefaultScope.overwrite_default_scope('gfvideo'):
        sample = DATASETS.build(cfg.test_dataloader.dataset)[0]
        model = MODELS.build(cfg.model).eval()
    assert sample['num_views'] == 6 and sample['inputs'].shape == (48, 3, 224, 224)
    data = model.data_preprocessor(dict(inputs=sample['inputs'][None], data_samples=dict(
        labels=torch.tensor([sample['label']]), num_views=sample['num_views'])), False)
    with torch.no_grad():
        result = model(**data, mode='predict')[0]
    assert result['views'] == 6 and result['gflops'] == pytest.approx(6 * model.gflops())
