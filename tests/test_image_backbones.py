"""Image backbones (GFNet's families): FLOPs against torchvision's published figures, RegNetY-600MF
against pycls's, stage shapes, shift placement, fusion and torchvision checkpoints."""
from __future__ import annotations

import copy
import re

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import efficientnet as tv_efficientnet

from gfvideo.compute.flops import analyze_flops
from gfvideo.models.backbones import build_backbone
from gfvideo.models.fuse import FusedConv2d, fuse_for_inference
from gfvideo.models.tsm import TemporalShift
from tests.test_fuse import _with_statistics

W = torchvision.models
# registered name -> the torchvision weights whose meta gives the published figures ('_ops': GFLOPS,
# conv + linear multiply-adds of the classifier at the weights' crop size; 'num_params')
TORCHVISION = {
    'resnet50': W.ResNet50_Weights.IMAGENET1K_V1,
    'mobilenet_v3_large': W.MobileNet_V3_Large_Weights.IMAGENET1K_V1,
    'densenet121': W.DenseNet121_Weights.IMAGENET1K_V1,
    'efficientnet_b2': W.EfficientNet_B2_Weights.IMAGENET1K_V1,
    'efficientnet_b3': W.EfficientNet_B3_Weights.IMAGENET1K_V1,
    'regnet_y_800mf': W.RegNet_Y_800MF_Weights.IMAGENET1K_V1,
    'regnet_y_1_6gf': W.RegNet_Y_1_6GF_Weights.IMAGENET1K_V1,
}
# gfvideo's count of the same classifiers (batch norm and pooling included), docs/references.md "Image backbones"
GFVIDEO_GFLOPS = {'resnet50': 4.113, 'mobilenet_v3_large': 0.2260, 'densenet121': 2.868, 'efficientnet_b2': 1.126,
                  'efficientnet_b3': 1.884, 'regnet_y_800mf': 0.8458, 'regnet_y_1_6gf': 1.630}


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Full-size traces on one thread: counts do not depend on it, and on a shared 2-core machine
    two threads' spin-waits made these tests 10x slower (5 s against 0.5 s for DenseNet-121)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _Classifier(nn.Module):
    """The plain ImageNet classifier: backbone (one frame) and torchvision's head (dropout costs nothing)."""

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__()
        self.backbone = build_backbone(name, shift=False, **kwargs)
        channels = self.backbone.out_channels
        self.head = (nn.Sequential(nn.Linear(channels, 1280), nn.Hardswish(), nn.Linear(1280, 1000))
                     if name == 'mobilenet_v3_large' else nn.Linear(channels, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x, num_segments=1)[1])


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('name', list(TORCHVISION))
def test_flops_match_torchvision(name):
    """torchvision's ``_ops`` counts convolutions and linear layers only; gfvideo's convention also
    counts batch norm (2 per element) and pooling, 0.6% (ResNet-50) to 4.3% (MobileNetV3) more."""
    weights = TORCHVISION[name]
    size = weights.transforms().crop_size[0]
    model = _Classifier(name)
    assert _params(model) == weights.meta['num_params']
    report = analyze_flops(model, torch.zeros(1, 3, size, size))
    conv_linear = report.by_operator['conv'] + report.by_operator['linear']
    assert conv_linear == pytest.approx(weights.meta['_ops'], abs=6e-4)  # torchvision rounds to 3 decimals
    assert report.total == pytest.approx(GFVIDEO_GFLOPS[name], rel=1e-3)
    assert report.by_operator['batch_norm'] > 0 and 1.005 < report.total / conv_linear < 1.045


def test_regnet_y_600mf_is_pycls_s():
    """pycls's RegNetY-600MF: stage widths / depths from its parameters, 6.1 M parameters, 0.6 GFLOPs."""
    model = _Classifier('regnet_y_600mf')
    trunk = model.backbone.trunk_output
    assert [len(stage) for stage in trunk] == [1, 3, 7, 4]
    assert model.backbone.stage_channels == (48, 112, 256, 608)
    assert all(block.f.b[0].groups == block.f.b[0].out_channels // 16 for stage in trunk for block in stage)
    assert round(_params(model) / 1e6, 1) == 6.1
    report = analyze_flops(model, torch.zeros(1, 3, 224, 224))
    assert round(report.by_operator['conv'] + report.by_operator['linear'], 1) == 0.6


# new families, small enough for a quick forward (RegNets at full width: they have no width knob)
TINY = {'densenet121': dict(growth_rate=8, num_init_features=16), 'efficientnet_b2': dict(width=0.5),
        'efficientnet_b3': dict(width=0.5), 'regnet_y_600mf': {}, 'regnet_y_800mf': {}, 'regnet_y_1_6gf': {}}
SHIFTS = {'densenet121': 58, 'efficientnet_b2': 16, 'efficientnet_b3': 19, 'regnet_y_600mf': 15,
          'regnet_y_800mf': 14, 'regnet_y_1_6gf': 27}  # dense layers / residual MBConvs / RegNet blocks


@pytest.mark.parametrize('name', list(TINY))
def test_stages_and_shift(name):
    backbone = build_backbone(name, **TINY[name]).eval()
    assert sum(isinstance(m, TemporalShift) for m in backbone.modules()) == SHIFTS[name]
    x = torch.randn(2 * 2, 3, 50, 50)  # odd sizes from stride 2: the rounding of every stage shows
    with torch.no_grad():
        for stage in (1, 2, 3, 4):
            backbone.feature_stage = stage
            feature_map, pooled, state = backbone(x, num_segments=2)
            size = backbone.stage_size(50, stage)
            assert feature_map.shape == (4, backbone.feature_channels, size, size)
        assert pooled.shape == (4, backbone.out_channels) and len(state) == SHIFTS[name]
        x2 = x.clone()
        x2[1] += 1  # the second frame of clip 0 only
        pooled2 = backbone(x2, num_segments=2)[1]
    # relative comparisons: a randomly initialised EfficientNet's features are tiny (1e-13)
    assert not torch.allclose(pooled[0], pooled2[0], rtol=1e-3, atol=0)  # frame 0 sees frame 1
    assert torch.allclose(pooled[2:], pooled2[2:], rtol=1e-5, atol=0)  # the other clip is untouched


@pytest.mark.parametrize('name', list(TINY))
def test_fusion_gives_the_same_features(name):
    x = torch.randn(2, 3, 40, 40)
    model = _with_statistics(build_backbone(name, shift=False, **TINY[name]), lambda m: m(x, num_segments=1))
    fused = fuse_for_inference(copy.deepcopy(model))
    left = sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    if name == 'densenet121':  # pre-activation: only the stem's conv0 -> norm0 -> relu0 folds
        assert sum(isinstance(m, FusedConv2d) for m in fused.modules()) == 1
        assert left == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) - 1
    else:
        assert left == 0
    with torch.no_grad():
        for want, got in zip(model(x, num_segments=1)[:2], fused(x, num_segments=1)[:2]):
            assert torch.allclose(want, got, rtol=1e-4, atol=1e-4 * want.abs().max().item())


def _legacy_densenet_keys(state: dict) -> dict:
    """torchvision's released DenseNet files say ``norm.1`` for ``norm1`` (its loader renames them)."""
    return {re.sub(r'(denselayer\d+\.(?:norm|conv))([12])\.', r'\1.\2.', k): v for k, v in state.items()}


@pytest.mark.parametrize('name,reference,rename', [
    ('densenet121', lambda: W.DenseNet(growth_rate=8, num_init_features=16), _legacy_densenet_keys),
    ('efficientnet_b2', lambda: W.EfficientNet(
        tv_efficientnet._efficientnet_conf('efficientnet_b2', width_mult=1.1 * 0.5, depth_mult=1.2)[0], 0.3),
     None),
    ('regnet_y_800mf', W.regnet_y_800mf, None)])
def test_loads_torchvision_checkpoint(tmp_path, name, reference, rename):
    """A torchvision ``.pth`` loads as it is; without the shift the pooled features are torchvision's."""
    torch.manual_seed(0)
    reference = _with_statistics(reference(), lambda m: m(torch.randn(2, 3, 32, 32)))
    path = tmp_path / f'{name}.pth'
    torch.save((rename or dict)(reference.state_dict()), path)
    backbone = build_backbone(name, pretrained=str(path), shift=False, **TINY[name]).eval()
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        if name.startswith('regnet'):
            expect = reference.trunk_output(reference.stem(x))
        else:
            expect = torch.relu(reference.features(x)) if name == 'densenet121' else reference.features(x)
        assert torch.allclose(backbone(x, num_segments=1)[1], expect.mean((2, 3)), atol=1e-5)


def test_mobilenet_v3_head_loads_torchvision_classifier(tmp_path):
    """``head=True``: the pooled feature is torchvision's ``classifier[0:2]`` output (1280 wide)."""
    torch.manual_seed(0)
    reference = _with_statistics(W.mobilenet_v3_large(width_mult=0.25), lambda m: m(torch.randn(2, 3, 32, 32)))
    torch.save(reference.state_dict(), tmp_path / 'mbv3.pth')
    backbone = build_backbone('mobilenet_v3_large', pretrained=str(tmp_path / 'mbv3.pth'), shift=False,
                              width=0.25, head=True).eval()
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        expect = reference.classifier[1](reference.classifier[0](reference.features(x).mean((2, 3))))
        assert backbone.out_channels == expect.shape[1]
        assert torch.allclose(backbone(x, num_segments=1)[1], expect, atol=1e-5)
