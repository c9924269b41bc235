"""Backbone shapes, torchvision naming, and loading local ImageNet weights."""
import pytest
import torch
import torchvision

from gfvideo.models.backbones import build_backbone, list_backbones
from gfvideo.models.tsm import TemporalShift


@pytest.mark.parametrize('name,kwargs,channels', [
    ('resnet18', dict(width=8), 64), ('resnet34', dict(width=8), 64),
    ('resnet50', dict(width=8), 256), ('mobilenet_v2', dict(width=0.25, last_channels=32), 32),
    ('mobilenet_v3_large', dict(width=0.25), 240), ('efficientnet_b0', dict(width=0.25), 320)])
def test_shapes(name, kwargs, channels):
    backbone = build_backbone(name, feature_stage=2, **kwargs).eval()
    feature_map, pooled, _ = backbone(torch.randn(2 * 4, 3, 64, 64), num_segments=4)
    assert pooled.shape == (8, channels)
    assert feature_map.shape == (8, backbone.feature_channels, 8, 8)  # stage 2: stride 8


def test_shift_placement():
    r50 = build_backbone('resnet50')
    assert sum(isinstance(m, TemporalShift) for m in r50.modules()) == 16  # every bottleneck
    mbv2 = build_backbone('mobilenet_v2')
    assert sum(isinstance(m, TemporalShift) for m in mbv2.modules()) == 10  # blocks with a residual
    mbv3 = build_backbone('mobilenet_v3_large')
    assert sum(isinstance(m, TemporalShift) for m in mbv3.modules()) == 10  # incl. block 1 (no expansion)
    assert mbv3.features[1].shift is not None and len(mbv3.features[1].block) == 2  # depthwise + project
    effnet = build_backbone('efficientnet_b0')
    assert sum(isinstance(m, TemporalShift) for m in effnet.modules()) == 9


def test_shift_mixes_frames():
    backbone = build_backbone('resnet18', width=8).eval()
    x = torch.randn(4, 3, 32, 32)
    _, a, _ = backbone(x, num_segments=4)
    x2 = x.clone()
    x2[3] += 1  # change the last frame only
    _, b, _ = backbone(x2, num_segments=4)
    assert not torch.allclose(a[2], b[2])  # frame 2 sees frame 3 through the shift
    _, c, _ = backbone(x2, num_segments=1)    # one frame per clip: no mixing
    _, d, _ = backbone(x, num_segments=1)
    assert torch.allclose(c[2], d[2])


@pytest.mark.parametrize('name,tv', [('resnet18', torchvision.models.resnet18),
                                     ('mobilenet_v2', torchvision.models.mobilenet_v2),
                                     ('mobilenet_v3_large', torchvision.models.mobilenet_v3_large),
                                     ('efficientnet_b0', torchvision.models.efficientnet_b0)])
def test_loads_torchvision_checkpoint(tmp_path, name, tv):
    reference = tv().eval()
    path = tmp_path / f'{name}.pth'
    torch.save(reference.state_dict(), path)
    backbone = build_backbone(name, pretrained=str(path)).eval()
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key])
    if hasattr(reference, 'features') and name != 'mobilenet_v2':  # without the shift: torchvision's features
        plain = build_backbone(name, pretrained=str(path), shift=False).eval()
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            expect = reference.features(x).mean((2, 3))
            assert torch.allclose(plain(x, num_segments=1)[1], expect, atol=1e-5)


def test_missing_weights_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        build_backbone('resnet18', pretrained=str(tmp_path / 'nowhere.pth'))


def test_unknown_backbone_lists_choices():
    with pytest.raises(KeyError, match='resnet50'):
        build_backbone('resnet51')
    assert {'resnet18', 'resnet34', 'resnet50', 'mobilenet_v2'} <= set(list_backbones())
