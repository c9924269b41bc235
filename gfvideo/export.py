"""ONNX export of the static TSM recognizer and of the glance and focus backbones.

The glance-and-focus recognizer's control flow (which frames, where, when to stop) stays in
Python; what runs the FLOPs is the backbones, so those export: the glance backbone over
``[B * N, 3, g, g]`` downsampled frames and the focus backbone over one step's
``[B * K, 3, P, P]`` patches (offline shift inside the step). Each file takes a dynamic
batch (a multiple of its frames per clip) and is checked against PyTorch with onnxruntime
when it is installed (``pip install onnxruntime``; a dev dependency).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from .models.recognizer import GlanceFocusRecognizer

OPSET = 17


class BackboneExport(nn.Module):
    """``backbone(x, num_segments)`` as a one-input module: ``x`` -> (feature map, pooled)."""

    def __init__(self, backbone: nn.Module, num_segments: int) -> None:
        super().__init__()
        self.backbone, self.num_segments = backbone, num_segments

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps, pooled, _ = self.backbone(x, num_segments=self.num_segments)
        return maps, pooled


@dataclass
class Exported:
    path: str
    max_abs_diff: float | None  # onnxruntime vs PyTorch on a fresh input; None without onnxruntime


def _export(module: nn.Module, example: torch.Tensor, path: str, input_name: str,
            output_names: list[str]) -> Exported:
    module = module.eval()
    axes = {input_name: {0: 'batch'}, **{name: {0: 'batch'} for name in output_names}}
    with torch.no_grad():
        torch.onnx.export(module, (example,), path, dynamo=False, opset_version=OPSET, input_names=[input_name],
                          output_names=output_names, dynamic_axes=axes)
    return Exported(path, check(module, path, example.shape))


def check(module: nn.Module, path: str, shape: torch.Size) -> float | None:
    """Max abs difference of every output, onnxruntime vs PyTorch, on a new random input of
    ``shape`` with a different batch (the batch axis is dynamic)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    x = torch.randn(shape[0] * 2, *shape[1:], generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = module(x)
    want = want if isinstance(want, (tuple, list)) else [want]
    return max(float((torch.from_numpy(g) - w).abs().max()) for g, w in zip(got, want))


def export_model(model: nn.Module, out_dir: str) -> list[Exported]:
    """Export a ``StaticTSM`` (``static_tsm.onnx``: float clips ``[B, N, 3, S, S]``, normalised,
    -> logits) or a ``GlanceFocusRecognizer`` (``glance.onnx`` and ``focus.onnx`` backbones)."""
    os.makedirs(out_dir, exist_ok=True)
    model = model.eval()
    n = model.num_frames
    if isinstance(model, GlanceFocusRecognizer):
        g, p, k = model.glance.size, model.focus.patch, model.schedule.frames_per_step
        return [
            _export(BackboneExport(model.glance.backbone, n), torch.randn(2 * n, 3, g, g),
                    os.path.join(out_dir, 'glance.onnx'), 'frames', ['feature_map', 'pooled']),
            _export(BackboneExport(model.focus.backbone, k), torch.randn(2 * k, 3, p, p),
                    os.path.join(out_dir, 'focus.onnx'), 'patches', ['feature_map', 'pooled'])]
    s = model.input_size
    return [_export(model, torch.randn(2, n, 3, s, s), os.path.join(out_dir, 'static_tsm.onnx'),
                    'clips', ['logits'])]
