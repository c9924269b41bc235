"""The image-recognition families of GFNet beyond ResNet / MobileNetV3 / EfficientNet-B0: DenseNet-121,
EfficientNet-B2 / B3 and RegNetY-600MF / 800MF / 1.6GF, as TSM backbones.

Same interface and conventions as ``backbones.py`` (:class:`TSMBackbone`: ``forward(x,
num_segments, shift_state) -> (feature_map, pooled, shift_state)``, stages 1-4 at strides
4-32, torchvision's parameter names so ImageNet ``.pth`` files load with ``load_pretrained``).
Images are 1-frame clips: build with ``shift=False`` (the recognizer does so for
``num_frames=1``).

Shift placement, on the branch that computes new features, never on the path that carries
the input on: RegNet, before the bottleneck transform ``f`` of every block (as ResNet);
DenseNet, at the input of every dense layer's new-feature branch (before ``norm1``), while
the concatenation keeps the unshifted input; EfficientNet-B2 / B3 as B0 (``backbones.py``).

RegNetY-600MF is not in torchvision: it is built from torchvision's RegNet blocks with
pycls's published parameters (docs/references.md, "Image backbones"). The 800MF and 1.6GF
parameters are torchvision's, which are pycls's too.

Fusion (``gfvideo.models.fuse``): RegNet and EfficientNet fold every conv's batch norm.
DenseNet is pre-activation (batch norm, ReLU, then conv): only the stem's ``conv0 -> norm0
-> relu0`` folds; the batch norms inside dense layers and transitions act before their conv
and stay unfused.
"""
from __future__ import annotations

import re
from collections import OrderedDict

import torch
from torch import nn
from torchvision.models import densenet as tv_densenet
from torchvision.models import regnet as tv_regnet

from ..registry import BACKBONES
from .backbones import EfficientNetTSM, TSMBackbone, _FeatureStages, _ShiftSlot


class ShiftDenseLayer(_ShiftSlot, tv_densenet._DenseLayer):
    """A dense layer that returns its input with its new features appended (torchvision's block
    concatenates once at the end; the result is the same)."""

    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        branch, carry = self.shifted(x, num_segments, prev)
        return torch.cat([x, super().forward(branch)], 1), carry


# torchvision's released DenseNet weights name dense-layer modules ``norm.1`` for ``norm1``
_LEGACY_DENSE_KEY = re.compile(r'(denselayer\d+\.(?:norm|relu|conv))\.([12])\.')


def _rename_legacy_dense_keys(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """Load-state-dict pre-hook: ``...denselayer1.norm.1.weight`` -> ``...denselayer1.norm1.weight``."""
    for key in [k for k in state_dict if _LEGACY_DENSE_KEY.search(k)]:
        state_dict[_LEGACY_DENSE_KEY.sub(r'\1\2.', key)] = state_dict.pop(key)


class DenseNetTSM(_FeatureStages):
    """torchvision's DenseNet ``features`` (plus the final ReLU its forward applies, as ``relu5``).

    ``growth_rate`` and ``num_init_features`` are the width knobs (tiny models).
    """

    stage_ends = (5, 7, 9, 13)  # stem + block 1 | transition + block (x2) | transition + block 4, norm5, relu5

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, shift: bool = True, fold_div: int = 8) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv0=nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
            norm0=nn.BatchNorm2d(num_init_features), relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        channels, stage_channels = num_init_features, []
        for i, num_layers in enumerate(block_config, start=1):
            layers[f'denseblock{i}'] = nn.Sequential(OrderedDict(
                (f'denselayer{j + 1}', ShiftDenseLayer(channels + j * growth_rate, growth_rate, bn_size, 0.0))
                for j in range(num_layers)))
            channels += num_layers * growth_rate
            stage_channels.append(channels)
            if i < len(block_config):
                layers[f'transition{i}'] = tv_densenet._Transition(channels, channels // 2)
                channels //= 2
        layers['norm5'] = nn.BatchNorm2d(channels)
        layers['relu5'] = nn.ReLU(inplace=True)
        self.features = nn.Sequential(layers)
        self.stage_channels = tuple(stage_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
        if shift:
            self._add_shifts([m for m in self.modules() if isinstance(m, ShiftDenseLayer)], fold_div)
        self.register_load_state_dict_pre_hook(_rename_legacy_dense_keys)

    def stage_size(self, input_size: int, stage: int) -> int:
        """The stem's conv and max pool round up; each transition's 2x2 average pool rounds down."""
        size = super().stage_size(input_size, 1)
        for _ in range(stage - 1):
            size //= 2
        return size


class ShiftResBottleneckBlock(_ShiftSlot, tv_regnet.ResBottleneckBlock):
    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        identity = x if self.proj is None else self.proj(x)
        branch, carry = self.shifted(x, num_segments, prev)
        return self.activation(identity + self.f(branch)), carry


class RegNetTSM(TSMBackbone):
    """torchvision's RegNet stem and trunk (4 stages) for the given block parameters."""

    def __init__(self, block_params: tv_regnet.BlockParams, stem_width: int = 32, shift: bool = True,
                 fold_div: int = 8) -> None:
        super().__init__()
        if len(block_params.widths) != 4:
            raise ValueError(f'RegNetTSM needs 4 stages, the parameters give {len(block_params.widths)}')
        net = tv_regnet.RegNet(block_params, num_classes=1, stem_width=stem_width,
                               block_type=ShiftResBottleneckBlock)
        self.stem, self.trunk_output = net.stem, net.trunk_output
        self.stage_channels = tuple(block_params.widths)
        if shift:
            self._add_shifts([b for stage in self.trunk_output for b in stage], fold_div)

    def stages(self) -> list[list[nn.Module]]:
        """Stem and stage 1, then stages 2-4, as blocks (``_run`` enters only exact ``nn.Sequential`` s)."""
        blocks = [list(stage) for stage in self.trunk_output]
        return [[self.stem, *blocks[0]], *blocks[1:]]


# RegNetY parameters (SE ratio 0.25 of each block's input width): pycls's configs/dds_baselines/regnety
_REGNET_Y = {
    'regnet_y_600mf': dict(depth=15, w_0=48, w_a=32.54, w_m=2.32, group_width=16),
    'regnet_y_800mf': dict(depth=14, w_0=56, w_a=38.84, w_m=2.4, group_width=16),
    'regnet_y_1_6gf': dict(depth=27, w_0=48, w_a=20.71, w_m=2.65, group_width=24),
}


def _regnet_y(name: str, **kwargs) -> RegNetTSM:
    return RegNetTSM(tv_regnet.BlockParams.from_init_params(**_REGNET_Y[name], se_ratio=0.25), **kwargs)


@BACKBONES.register_module()
def densenet121(**kwargs) -> DenseNetTSM:
    return DenseNetTSM(**kwargs)


@BACKBONES.register_module()
def efficientnet_b2(**kwargs) -> EfficientNetTSM:
    return EfficientNetTSM(arch='efficientnet_b2', **kwargs)


@BACKBONES.register_module()
def efficientnet_b3(**kwargs) -> EfficientNetTSM:
    return EfficientNetTSM(arch='efficientnet_b3', **kwargs)


@BACKBONES.register_module()
def regnet_y_600mf(**kwargs) -> RegNetTSM:
    return _regnet_y('regnet_y_600mf', **kwargs)


@BACKBONES.register_module()
def regnet_y_800mf(**kwargs) -> RegNetTSM:
    return _regnet_y('regnet_y_800mf', **kwargs)


@BACKBONES.register_module()
def regnet_y_1_6gf(**kwargs) -> RegNetTSM:
    return _regnet_y('regnet_y_1_6gf', **kwargs)
