"""Checkpoint converters: round trips through every naming, the CLI, and mmaction2's own outputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision

from gfvideo.models import StaticTSM
from gfvideo.models.convert import (ConversionError, from_mmaction2, from_torchvision, from_tsm_official,
                                    to_mmaction2, to_torchvision, to_tsm_official)

from .conftest import ROOT, run_tool

FIXTURE = Path(__file__).parent / 'fixtures' / 'mmaction2_tsm_r50.json'


def deterministic(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Fill every tensor of ``model`` from one seeded generator (the same on any machine)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in sorted(model.state_dict().items()):
            if t.is_floating_point():
                values = torch.rand(t.shape, generator=g) * 2 - 1
                if name.endswith('running_var'):
                    values = values.abs() + 0.5
                elif name.endswith('.weight') and t.dim() > 1:
                    values = values * (3.0 / (t[0].numel())) ** 0.5  # keep activations O(1)
                t.copy_(values)
    return model.eval()


def static(backbone: str, **kwargs) -> StaticTSM:
    return StaticTSM(num_classes=10, num_frames=4, input_size=64, backbone=dict(backbone=backbone, **kwargs))


@pytest.mark.parametrize('backbone, kwargs', [('resnet50', dict(width=8)), ('resnet18', dict(width=8)),
                                              ('mobilenet_v2', dict(width=0.5))])
@pytest.mark.parametrize('to, back', [(to_mmaction2, from_mmaction2), (to_tsm_official, from_tsm_official)])
def test_round_trip_gives_equal_outputs(backbone, kwargs, to, back):
    if to is to_tsm_official and backbone == 'mobilenet_v2':
        pytest.skip('TSM-official conversion covers its ResNet checkpoints')
    model = deterministic(static(backbone, **kwargs), 0)
    foreign = to(model.state_dict())
    assert not set(foreign) & set(model.state_dict())          # really renamed
    loaded = static(backbone, **kwargs).eval()
    assert not loaded.load_state_dict(back(foreign), strict=True).missing_keys
    x = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_mmaction2_names_follow_its_modules():
    r50 = to_mmaction2(static('resnet50', width=8).state_dict())
    for key in ('backbone.conv1.conv.weight', 'backbone.conv1.bn.running_var', 'backbone.layer1.0.conv1.conv.net.weight',
                'backbone.layer1.0.conv3.bn.weight', 'backbone.layer2.0.downsample.conv.weight',
                'backbone.layer2.0.downsample.bn.bias', 'cls_head.fc_cls.weight'):
        assert key in r50, key
    mbv2 = to_mmaction2(static('mobilenet_v2').state_dict())
    for key in ('backbone.conv1.conv.weight', 'backbone.layer1.0.conv.0.conv.weight',   # no expansion
                'backbone.layer1.0.conv.1.bn.weight', 'backbone.layer2.1.conv.0.net.conv.weight',  # shifted
                'backbone.layer2.0.conv.0.conv.weight', 'backbone.layer2.1.conv.2.bn.running_mean',
                'backbone.conv2.conv.weight'):
        assert key in mbv2, key
    shifted = {k.split('.net.')[0] for k in mbv2 if '.net.' in k}
    assert len(shifted) == 10                        # one shifted conv per residual block


@pytest.mark.parametrize('name, tv', [('resnet18', torchvision.models.resnet18),
                                      ('mobilenet_v2', torchvision.models.mobilenet_v2)])
def test_torchvision_round_trip(name, tv):
    reference = tv().state_dict()
    ours = from_torchvision(reference, prefix='backbone.')
    model = static(name)
    result = model.load_state_dict(ours, strict=False)
    assert set(result.missing_keys) == {'fc.weight', 'fc.bias'} and not result.unexpected_keys
    back = to_torchvision(model.state_dict())
    assert back.keys() == {k for k in reference if not k.startswith(('fc.', 'classifier.'))}
    assert all(torch.equal(back[k], reference[k]) for k in back)


def test_unknown_keys_fail_naming_the_key():
    with pytest.raises(ConversionError, match='backbone.layer1.0.mystery'):
        from_mmaction2({'backbone.layer1.0.mystery.weight': torch.zeros(1)})
    with pytest.raises(ConversionError, match='module.other'):
        from_tsm_official({'module.other.weight': torch.zeros(1)})
    tv = torchvision.models.resnet18().state_dict()
    with pytest.raises(ConversionError, match="'module.conv1.weight' is not a torchvision"):
        from_torchvision({f'module.{k}': v for k, v in tv.items()})     # a DataParallel file
    with pytest.raises(ConversionError, match='backbone.head.weight'):
        to_torchvision({'backbone.head.weight': torch.zeros(1)})
    with pytest.raises(ConversionError, match="'focus.backbone.'"):
        to_torchvision(static('resnet18').state_dict(), prefix='focus.backbone.')


def test_cli_converts_an_mmaction2_checkpoint_that_loads_into_the_static_config(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from gfvideo.registry import MODELS
    cfg = Config.fromfile(ROOT / 'configs/tsm/tsm_r50_8f_sthv2.py')
    with DefaultScope.overwrite_default_scope('gfvideo'):
        model = deterministic(MODELS.build(cfg.model), 1)
    src, dst = tmp_path / 'mm.pth', tmp_path / 'gf.pth'
    torch.save({'meta': {'mmaction_version': '1.2.0'}, 'state_dict': to_mmaction2(model.state_dict())}, src)
    proc = run_tool('tools/convert_checkpoint.py', str(src), str(dst), '--from', 'mmaction2')
    assert '-> ' in proc.stdout
    with DefaultScope.overwrite_default_scope('gfvideo'):
        fresh = MODELS.build(cfg.model).eval()
    state = torch.load(dst, weights_only=True)
    fresh.load_state_dict(state['state_dict'], strict=True)
    assert state['meta']['converted_from'] == 'mmaction2'
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'backbone.nope.weight': torch.zeros(1)}}, bad)
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, 'tools/convert_checkpoint.py', str(bad), str(dst), '--from', 'mmaction2'],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and 'backbone.nope.weight' in proc.stderr and 'Traceback' not in proc.stderr


@pytest.mark.parametrize('backbone', ['resnet50', 'mobilenet_v2'])
def test_matches_mmaction2_itself(backbone):
    """mmaction2 1.2.0's TSM (``ResNetTSM`` / ``MobileNetV2TSM`` + ``TSMHead``, 174 classes,
    8 frames), given our deterministic weights in its naming (loaded with ``strict=True``),
    scored a seeded input in a separate environment (``tools/dev/mmaction2_reference.py``).
    Converted back, the same weights give the same scores here: max abs difference < 1e-4."""
    ref = json.loads(FIXTURE.read_text())
    size = ref['size']
    model = deterministic(StaticTSM(num_classes=174, num_frames=8, input_size=size,
                                    backbone=dict(backbone=backbone)), ref['weights_seed'])
    converted = StaticTSM(num_classes=174, num_frames=8, input_size=size, backbone=dict(backbone=backbone)).eval()
    converted.load_state_dict(from_mmaction2(to_mmaction2(model.state_dict())), strict=True)
    x = torch.randn(1, 8, 3, size, size, generator=torch.Generator().manual_seed(ref['input_seed']))
    with torch.no_grad():
        scores = converted(x)[0]
    assert (scores - torch.tensor(ref['models'][backbone])).abs().max() < 1e-4
