"""Inference fusion (gfvideo.models.fuse): same outputs, no batch norm left, costs unchanged."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from gfvideo.models import GlanceFocusRecognizer, StaticTSM, build_backbone
from gfvideo.models.fuse import FusedConv2d, fuse_for_inference

BACKBONES = [('resnet18', dict(width=8)), ('resnet50', dict(width=8)), ('mobilenet_v2', dict(width=0.25)),
             ('mobilenet_v3_large', dict(width=0.25)), ('efficientnet_b0', dict(width=0.25))]


def _with_statistics(model: nn.Module, run) -> nn.Module:
    """Non-trivial batch-norm statistics and affines, so folding them is really tested."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features, generator=g) + 0.5
            m.bias.data = torch.randn(m.num_features, generator=g) * 0.1
    model.train()
    with torch.no_grad():
        run(model)
    return model.eval()


CASES = [(name, kwargs, True) for name, kwargs in BACKBONES] + [
    (name, kwargs, False) for name, kwargs in BACKBONES if name in ('resnet18', 'mobilenet_v3_large')]


@pytest.mark.parametrize('name,kwargs,example', CASES,
                         ids=[f"{n}-{'packed' if e else 'folded'}" for n, _, e in CASES])
def test_fused_backbone_gives_the_same_features(name, kwargs, example):
    torch.manual_seed(0)
    x = torch.randn(8, 3, 64, 64)
    model = _with_statistics(build_backbone(name, **kwargs), lambda m: m(x, num_segments=4))
    fused = copy.deepcopy(model)
    fuse_for_inference(fused, (lambda: fused(x, num_segments=4)) if example else None)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    convs = [m for m in fused.modules() if isinstance(m, FusedConv2d)]
    assert convs and all((m.packed is not None) == (example and torch.backends.mkldnn.is_available())
                         for m in convs)
    with torch.no_grad():
        for batch in (x, x[:4]):  # the example's batch and another
            want, got = model(batch, num_segments=4), fused(batch, num_segments=4)
            want, got = [*want[:2], *want[2]], [*got[:2], *got[2]]   # maps, pooled, the shift state
            for w, g in zip(want, got):
                assert torch.allclose(w, g, rtol=1e-4, atol=1e-4 * w.abs().max().item())


def test_fused_recognizer_runs_the_same_steps_and_keeps_its_costs():
    torch.manual_seed(0)
    model = GlanceFocusRecognizer(
        num_classes=5, num_frames=4, input_size=64, glance=dict(backbone='mobilenet_v2', size=32, width=0.25,
                                                                last_channels=32),
        focus=dict(backbone='resnet50', patch=32, width=8), frames_per_step=2, aggregator=dict(hidden=16))
    x = torch.randn(3, 4, 3, 64, 64)
    _with_statistics(model, lambda m: m.run(x))
    costs = model.exit_costs()
    fused = copy.deepcopy(model)
    fused._costs = None  # counted afresh: fusing must count before it folds
    fuse_for_inference(fused, lambda: fused.run(x[:1]))
    assert fused.exit_costs() == pytest.approx(costs)
    with torch.no_grad():
        want, got = model.run(x), fused.run(x)
        for a, b in zip(want.actions, got.actions):
            assert torch.equal(a.frames, b.frames)
            assert torch.allclose(a.centers, b.centers, atol=1e-4)
        for w, g in zip(want.logits, got.logits):
            assert torch.allclose(w, g, atol=1e-4)


def test_fused_static_model_predicts_the_same():
    torch.manual_seed(0)
    model = StaticTSM(num_classes=5, num_frames=4, input_size=64, backbone=dict(backbone='resnet18', width=8))
    x = torch.randn(2, 4, 3, 64, 64)
    _with_statistics(model, lambda m: m(x))
    fused = fuse_for_inference(copy.deepcopy(model), None)
    fused = fuse_for_inference(fused, lambda: fused(x))  # fusing twice changes nothing more
    with torch.no_grad():
        assert torch.allclose(model(x), fused(x), atol=1e-4)


def test_fused_conv_keeps_gradients_off_and_refuses_training_mode():
    model = build_backbone('resnet18', width=8)
    with pytest.raises(ValueError, match='eval'):
        fuse_for_inference(model.train())
    conv = FusedConv2d(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4).eval(), nn.ReLU(), input_size=[2, 3, 8, 8])
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    y = conv(x)  # an input that needs gradients takes the plain conv, which autograd follows
    y.sum().backward()
    assert x.grad is not None
    assert list(conv.parameters()) == [] and not conv.weight.requires_grad  # folded weights are buffers
    with pytest.raises(RuntimeError, match='load the checkpoint into the unfused model'):
        conv.load_state_dict(conv.state_dict())
    with pytest.raises(ValueError, match='activation'):
        FusedConv2d(nn.Conv2d(3, 4, 3), activation=nn.GELU())


def test_fusing_leaves_random_patches_as_they_were():
    """The example run must not consume the model's generator (a random policy draws from it)."""
    model = GlanceFocusRecognizer(
        num_classes=5, num_frames=4, input_size=64, glance=dict(backbone='resnet18', size=32, width=8),
        focus=dict(backbone='resnet18', patch=24, width=8), policy=dict(type='random'), frames_per_step=2,
        aggregator=dict(hidden=16)).eval()
    x = torch.randn(2, 4, 3, 64, 64)
    plain = copy.deepcopy(model)
    fuse_for_inference(model, lambda: model.run(x))
    with torch.no_grad():
        want, got = plain.run(x), model.run(x)
    assert torch.equal(torch.cat([a.centers for a in want.actions]), torch.cat([a.centers for a in got.actions]))
    assert torch.allclose(want.logits[-1], got.logits[-1], atol=1e-4)
