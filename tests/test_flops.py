"""Measured GFLOPs: reference networks, the extra op handles, the weighted-op rule, caching."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from gfvideo.compute import FlopCountError, analyze_flops, count_gflops
from gfvideo.compute import flops as flops_mod

# docs/references.md, "FLOPs reference": the mmengine convention (with batch norm), GFLOPs per input.
RESNET50_REF = {224: 4.112, 96: 0.757, 128: 1.344, 160: 2.099, 192: 3.021}
MOBILENETV2_REF = {224: 0.314, 128: 0.1035}


class Fn(nn.Module):
    """Wraps a function so that it can be traced as a module."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.fn(*args)


@pytest.fixture(scope="module")
def resnet50() -> nn.Module:
    return torchvision.models.resnet50(weights=None)


@pytest.mark.parametrize("size", sorted(RESNET50_REF))
def test_resnet50_matches_reference(resnet50: nn.Module, size: int) -> None:
    gflops = count_gflops(resnet50, (torch.randn(1, 3, size, size),))
    assert gflops == pytest.approx(RESNET50_REF[size], rel=5e-3)


def test_mobilenetv2_matches_reference() -> None:
    model = torchvision.models.mobilenet_v2(weights=None)
    for size, ref in MOBILENETV2_REF.items():
        assert count_gflops(model, (torch.randn(1, 3, size, size),)) == pytest.approx(ref, rel=5e-3)


def test_max_pool_is_counted_and_small(resnet50: nn.Module) -> None:
    report = analyze_flops(resnet50, (torch.randn(1, 3, 224, 224),))
    # stem max pool 3x3/2: 64 x 56 x 56 outputs, 9 reads each
    assert report.by_operator["max_pool2d"] * 1e9 == 64 * 56 * 56 * 9
    assert "aten::max_pool2d" not in report.unsupported_ops
    assert "aten::add_" in report.unsupported_ops  # weightless: listed, not an error


def test_by_module_and_batch_as_given(resnet50: nn.Module) -> None:
    x = torch.randn(1, 3, 96, 96)
    total, per_module = count_gflops(resnet50, (x,), by_module=True)
    assert per_module[""] == total
    assert per_module["fc"] * 1e9 == 2048 * 1000
    assert count_gflops(resnet50, (x.repeat(2, 1, 1, 1),)) == pytest.approx(2 * total)


def test_training_flags_restored() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout())
    model.train()
    model[1].eval()
    count_gflops(model, (torch.randn(1, 3, 8, 8),))
    assert [m.training for m in model.modules()] == [True, True, False, True]


def test_grucell_equals_formula() -> None:
    batch, inp, hid = 2, 10, 20
    cell = nn.GRUCell(inp, hid)
    gflops = count_gflops(cell, (torch.randn(batch, inp), torch.randn(batch, hid)))
    assert gflops > 0
    assert gflops * 1e9 == batch * (inp * 3 * hid + hid * 3 * hid)


def test_gru_sequence_equals_steps_of_cell() -> None:
    """Fused aten::gru (0 in mmengine) counts T steps of the cell's gate matmuls."""
    steps, batch, inp, hid = 5, 2, 10, 20
    gru = count_gflops(nn.GRU(inp, hid, batch_first=True), (torch.randn(batch, steps, inp),))
    cell = count_gflops(nn.GRUCell(inp, hid), (torch.randn(batch, inp), torch.randn(batch, hid)))
    assert gru * 1e9 == pytest.approx(steps * cell * 1e9)
    two_layer_bi = count_gflops(nn.GRU(inp, hid, num_layers=2, bidirectional=True),
                                (torch.randn(steps, batch, inp),))
    per_dir = (inp * 3 * hid + hid * 3 * hid) + (2 * hid * 3 * hid + hid * 3 * hid)
    assert two_layer_bi * 1e9 == steps * batch * 2 * per_dir


def test_lstm_sequence_formula() -> None:
    steps, batch, inp, hid = 4, 3, 6, 8
    gflops = count_gflops(nn.LSTM(inp, hid), (torch.randn(steps, batch, inp),))
    assert gflops * 1e9 == steps * batch * (inp * 4 * hid + hid * 4 * hid)


@pytest.mark.parametrize(
    "fn, inputs, expected",
    [
        (lambda t: F.max_pool2d(t, 3, 2, 1), (torch.randn(1, 8, 16, 16),), 8 * 8 * 8 * 9),
        (lambda t: F.avg_pool2d(t, 2), (torch.randn(1, 8, 16, 16),), 8 * 8 * 8 * 4),
        (lambda t: t.mean((2, 3)), (torch.randn(1, 8, 16, 16),), 8 * 16 * 16),
        (lambda t: F.interpolate(t, size=(8, 8), mode="bilinear", antialias=True),
         (torch.randn(1, 8, 16, 16),), 8 * 8 * 8 * 4),
        (lambda t: F.interpolate(t, size=(8, 8), mode="bicubic", align_corners=False),
         (torch.randn(1, 8, 16, 16),), 8 * 8 * 8 * 16),
        (lambda th: F.affine_grid(th, [2, 3, 8, 8], align_corners=False),
         (torch.randn(2, 2, 3),), 2 * 8 * 8 * 2 * 3),
    ],
    ids=["max_pool2d", "avg_pool2d", "mean", "bilinear_aa", "bicubic", "affine_grid"],
)
def test_extra_handles(fn, inputs: tuple, expected: int) -> None:
    assert count_gflops(Fn(fn), inputs) * 1e9 == expected


class _PatchScorer(nn.Module):
    """Conv features, then a learned PReLU: aten::prelu has no FLOP handle."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.act = nn.PReLU(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


def test_weighted_op_without_handle_raises() -> None:
    with pytest.raises(FlopCountError, match=r"act \(PReLU\).*aten::prelu"):
        count_gflops(_PatchScorer(), (torch.randn(1, 3, 16, 16),))


def test_weighted_op_error_can_be_resolved_with_a_handle() -> None:
    # declared free (None): an elementwise product, like the activations mmengine skips
    gflops = count_gflops(_PatchScorer(), (torch.randn(1, 3, 16, 16),),
                          handles={"aten::prelu": None})
    assert gflops * 1e9 == 8 * 14 * 14 * 3 * 9


@pytest.mark.parametrize('name, torchvision_gflops', [('mobilenet_v3_large', 0.217), ('efficientnet_b0', 0.386)])
def test_mobilenet_v3_and_efficientnet_match_torchvision_figures(name, torchvision_gflops):
    """torchvision's published multiply-adds at 224 (its weights' ``_ops``, conv + linear, with
    the classifier); ours adds batch norm and drops the classifier: within 5%."""
    from gfvideo.compute.costs import MethodCall
    from gfvideo.models.backbones import build_backbone
    backbone = build_backbone(name).eval()
    gflops = count_gflops(MethodCall(backbone, num_segments=1), (torch.randn(1, 3, 224, 224),))
    assert gflops == pytest.approx(torchvision_gflops, rel=0.05)
