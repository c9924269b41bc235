"""Inference-only rewrite of a trained model for speed: conv + batch norm + activation in one op.

:func:`fuse_for_inference` changes a model in eval mode, in place:

1. **Batch norm folds into the conv before it** (its running statistics and affine become
   the conv's weight and bias), and the activation after it (ReLU, ReLU6, Hardswish, SiLU)
   joins the conv: one pass over the feature map instead of three.
2. **ResNet blocks add the residual inside their last conv** (and apply the ReLU there).
3. **On CPU, conv weights are pre-packed** into oneDNN's blocked layout, for the input
   shapes seen while running ``example`` once. An ordinary conv reorders its weight on
   every call. On small batches that reorder costs as much as the convolution: at batch 1
   the focus network reads 4 patches per step. The packed weights stay valid for any
   batch size. Without ``example``, or without oneDNN, the convs run folded but unpacked.

Where it applies: conv -> batch norm (-> activation) in an ``nn.Sequential`` (torchvision's
``Conv2dNormActivation`` and the MobileNet / EfficientNet blocks made of it, ResNet
downsample branches), ``convN`` / ``bnN`` attribute pairs (ResNet stems), and torchvision
``BasicBlock`` / ``Bottleneck`` (gfvideo's shift blocks included). Outputs match the
unfused model to float rounding (within 1e-4; 2e-5 to 4e-5 measured on the full-size
glance-and-focus models). The ``convN`` / ``bnN`` pairing assumes ``bnN(convN(x))``
(checked by channel count), as in torchvision's ResNets.

The fused model is for inference only: no gradients reach the folded weights, and batch
norm no longer adapts. Load the checkpoint first, then fuse; a fused model refuses a state
dict. Keep the unfused model for training and checkpoints. Running ``example`` does not
consume the model's random generators (random patches stay as they would have been). Compute costs
keep the unfused convention (batch norm counted): a recognizer counts its costs before it
is fused. Under ``torch.jit`` tracing (the FLOP counter, ONNX export) or on CUDA a fused
conv runs the plain folded conv, so the same module works there too.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights
from torchvision.models.resnet import BasicBlock, Bottleneck

from ..compute.costs import model_exit_costs
from .backbones import ShiftBasicBlock, ShiftBottleneck
from .base import Recognizer
from .tsm import ShiftBlock

__all__ = ['FusedConv2d', 'fuse_for_inference']

# activation module -> oneDNN post-op name and its scalars
_POST_OPS: dict[type, tuple[str, list[float]]] = {
    nn.ReLU: ('relu', []), nn.ReLU6: ('hardtanh', [0.0, 6.0]),
    nn.Hardswish: ('hardswish', []), nn.SiLU: ('swish', []),
}


def _onednn_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, '_convolution_pointwise')


class FusedConv2d(nn.Module):
    """``activation(conv(x) [+ residual])`` with ``bn`` folded into the conv; inference only.

    Args:
        conv: the conv (zero padding given as numbers).
        bn: the batch norm after it (eval statistics), or None.
        activation: one of ReLU, ReLU6, Hardswish, SiLU, or None.
        input_size: the input shape to pre-pack the weight for (CPU, oneDNN); None: no packing.
    """

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, activation: nn.Module | None = None,
                 input_size: list[int] | None = None) -> None:
        super().__init__()
        if not _foldable(conv):
            raise ValueError(f'FusedConv2d takes an nn.Conv2d with zero padding given as numbers, got {conv}')
        if activation is not None and type(activation) not in _POST_OPS:
            raise ValueError(f'unsupported activation {type(activation).__name__}; '
                             f'choose from {sorted(t.__name__ for t in _POST_OPS)} or None')
        weight = conv.weight.detach()
        bias = conv.bias.detach() if conv.bias is not None else None
        if bn is not None:
            weight, bias = fuse_conv_bn_weights(weight, bias, bn.running_mean, bn.running_var, bn.eps,
                                                bn.weight, bn.bias)
        if bias is None:
            bias = weight.new_zeros(weight.shape[0])
        self.register_buffer('weight', weight.detach().contiguous(memory_format=torch.channels_last))
        self.register_buffer('bias', bias.detach().clone())
        self.stride, self.padding = list(conv.stride), list(conv.padding)
        self.dilation, self.groups = list(conv.dilation), conv.groups
        self.activation = activation
        self.post_op, self.post_scalars = _POST_OPS[type(activation)] if activation is not None else ('none', [])
        self.packed: torch.Tensor | None = None  # a oneDNN tensor: not a buffer, never saved or moved
        if input_size is not None and _onednn_available() and weight.device.type == 'cpu' \
                and weight.dtype == torch.float32:
            self.packed = torch._C._nn.mkldnn_reorder_conv2d_weight(
                self.weight.to_mkldnn(), self.padding, self.stride, self.dilation, self.groups, input_size)

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        raise RuntimeError(f'{prefix or "model"}: a fused model does not load weights (its packed copy would go '
                           f'stale); load the checkpoint into the unfused model, then fuse it')

    def _use_packed(self, x: torch.Tensor) -> bool:
        return (self.packed is not None and x.device.type == 'cpu' and x.dtype == torch.float32
                and not x.requires_grad and not torch.jit.is_tracing())

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if self._use_packed(x):
            x = x.contiguous(memory_format=torch.channels_last)
            if residual is None:
                return torch.ops.mkldnn._convolution_pointwise(
                    x, self.packed, self.bias, self.padding, self.stride, self.dilation, self.groups,
                    self.post_op, self.post_scalars, '')
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, residual.contiguous(memory_format=torch.channels_last), self.packed, self.bias,
                self.padding, self.stride, self.dilation, self.groups, 'add', None,
                None if self.post_op == 'none' else self.post_op, self.post_scalars, '')
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        if residual is not None:
            y = y + residual
        return y if self.activation is None else self.activation(y)

    def extra_repr(self) -> str:
        out_ch, in_ch = self.weight.shape[:2]
        return (f'{in_ch * self.groups}, {out_ch}, kernel_size={tuple(self.weight.shape[2:])}, stride={self.stride}, '
                f'post_op={self.post_op}, packed={self.packed is not None}')


class FusedResNetBlock(nn.Module):
    """A torchvision ``BasicBlock`` / ``Bottleneck``, fused."""

    def __init__(self, block: BasicBlock | Bottleneck, sizes: dict[nn.Module, list[int]]) -> None:
        super().__init__()
        convs = [block.conv1, block.conv2] + ([block.conv3] if isinstance(block, Bottleneck) else [])
        bns = [block.bn1, block.bn2] + ([block.bn3] if isinstance(block, Bottleneck) else [])
        self.convs = nn.ModuleList(FusedConv2d(c, b, nn.ReLU(), sizes.get(c)) for c, b in zip(convs, bns))
        self.downsample = block.downsample

    def residual(self, x: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        for conv in self.convs[:-1]:
            branch = conv(branch)
        return self.convs[-1](branch, residual=identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x, x)


class FusedShiftResNetBlock(ShiftBlock, FusedResNetBlock):
    """gfvideo's shift ResNet block, fused: the shift state in and out as in the unfused block."""

    def __init__(self, block: ShiftBasicBlock | ShiftBottleneck, sizes: dict[nn.Module, list[int]]) -> None:
        super().__init__(block, sizes)
        self.shift = block.shift

    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        branch, carry = self.shifted(x, num_segments, prev)
        return self.residual(x, branch), carry


# Exactly these: a subclass may change forward (squeeze-excitation, other shift placements).
_RESNET_BLOCKS = (BasicBlock, Bottleneck, ShiftBasicBlock, ShiftBottleneck)


def _generators(model: nn.Module) -> list[torch.Generator]:
    found: dict[int, torch.Generator] = {}
    for m in model.modules():
        for value in vars(m).values():
            if isinstance(value, torch.Generator):
                found[id(value)] = value
    return list(found.values())


def _conv_input_sizes(model: nn.Module, example: Callable[[], object]) -> dict[nn.Module, list[int]]:
    sizes: dict[nn.Module, list[int]] = {}

    def record(module: nn.Module, inputs: tuple) -> None:
        sizes.setdefault(module, list(inputs[0].shape))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    states = [(g, g.get_state()) for g in _generators(model)]  # e.g. a random policy's draws
    try:
        with torch.no_grad():
            example()
    finally:
        for h in hooks:
            h.remove()
        for g, state in states:
            g.set_state(state)
    return sizes


def _foldable(conv: nn.Module) -> bool:
    return isinstance(conv, nn.Conv2d) and conv.padding_mode == 'zeros' and not isinstance(conv.padding, str)


def _has_statistics(bn: nn.Module | None) -> bool:
    return isinstance(bn, nn.BatchNorm2d) and bn.running_mean is not None


def _normalises(bn: nn.Module | None, conv: nn.Conv2d) -> bool:
    """``bn`` is a batch norm with statistics over ``conv``'s output channels."""
    return _has_statistics(bn) and bn.num_features == conv.out_channels


def _fuse_children(module: nn.Module, sizes: dict[nn.Module, list[int]]) -> None:
    """Conv -> BN (-> activation) runs among ``module``'s direct children, and ``convN`` / ``bnN`` pairs."""
    items = list(module._modules.items())
    for i, (name, child) in enumerate(items):
        if not _foldable(child):
            continue
        in_sequence = isinstance(module, nn.Sequential)
        if in_sequence and i + 1 < len(items) and _normalises(items[i + 1][1], child):
            bn_name = items[i + 1][0]
            act_name = items[i + 2][0] if i + 2 < len(items) and type(items[i + 2][1]) in _POST_OPS else None
        elif name.startswith('conv') and _normalises(module._modules.get('bn' + name[4:]), child):
            bn_name, act_name = 'bn' + name[4:], None  # the activation is applied in forward: leave it
        else:
            continue
        act = module._modules[act_name] if act_name else None
        module._modules[name] = FusedConv2d(child, module._modules[bn_name], act, sizes.get(child))
        module._modules[bn_name] = nn.Identity()
        if act_name:
            module._modules[act_name] = nn.Identity()


@torch.no_grad()
def fuse_for_inference(model: nn.Module, example: Callable[[], object] | None = None) -> nn.Module:
    """Fold batch norms and activations into convs, in place, and pre-pack CPU weights; returns ``model``.

    ``example`` runs the model once on inputs of the shape it will see (e.g.
    ``lambda: model.run(clip)``); it tells which input size each conv's packed weight is for.
    See the module docstring for what changes and what doesn't.
    """
    if model.training:
        raise ValueError('fuse_for_inference folds batch-norm statistics: call model.eval() first')
    if isinstance(model, Recognizer):
        model_exit_costs(model)  # counted (and cached) unfused: batch norm included, as everywhere
    sizes = _conv_input_sizes(model, example) if example is not None else {}
    for module in list(model.modules()):
        for name, child in module.named_children():
            if type(child) in _RESNET_BLOCKS and all(
                    _has_statistics(bn) for key, bn in child.named_children() if key.startswith('bn')):
                fused = FusedShiftResNetBlock if isinstance(child, ShiftBlock) else FusedResNetBlock
                module._modules[name] = fused(child, sizes)
    for module in list(model.modules()):
        _fuse_children(module, sizes)
    return model
