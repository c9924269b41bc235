"""TSM backbones built from torchvision's blocks: one plain function per variant.

Every backbone maps ``[B*T, 3, H, W]`` to ``(feature_map, pooled)``: the feature map of
stage ``feature_stage`` (1-4, strides 4/8/16/32; the policy reads it, so it may be an
earlier stage than the last when the input is small) and the globally averaged last stage
``[B*T, C]``. Parameter names follow torchvision's, so ImageNet ``.pth`` files load as
they are (the shift has no parameters).

Shift placement (docs/references.md#tsm-temporal-shift): ResNet, on the residual branch before ``conv1`` of
every block; MobileNetV2, MobileNetV3 and EfficientNet, at the input of the residual
branch of every inverted-residual block that has a residual connection: before the first
(expanding) pointwise conv. A block without an expansion conv that has a residual (the
first block of MobileNetV3-Large, the second of EfficientNet-B2 / B3; B0's only such block
changes width, so it has no residual and no shift) starts with its depthwise conv: the shift
still goes at the branch input, before that depthwise conv, so the identity path stays untouched.
DenseNet and RegNet live in ``backbones_image.py``.
"""
from __future__ import annotations

import os
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import efficientnet as tv_efficientnet
from torchvision.models import mobilenetv3 as tv_mobilenetv3
from torchvision.models.mobilenetv2 import InvertedResidual, MobileNetV2
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops.misc import Conv2dNormActivation

from ..registry import BACKBONES
from .tsm import ShiftBlock, ShiftState, TemporalShift


class TSMBackbone(nn.Module):
    """Common forward: run the stages with the shift state, keep one stage's map, pool the last."""

    stage_channels: tuple[int, ...]
    # keys of a torchvision ImageNet file that ``load_pretrained`` leaves out (the classifier)
    classifier_prefixes: tuple[str, ...] = ('fc.', 'classifier.')

    def __init__(self) -> None:
        super().__init__()
        self.feature_stage = 4
        self.num_shifts = 0
        self.pool_head: nn.Module | None = None   # on the pooled feature (MobileNetV3's ``head=True``)

    def stages(self) -> list[list[nn.Module]]:
        """The modules of stages 1-4, in order (``nn.Sequential`` s are entered)."""
        raise NotImplementedError

    @property
    def feature_channels(self) -> int:
        return self.stage_channels[self.feature_stage - 1]

    @property
    def out_channels(self) -> int:
        """Width of the pooled feature."""
        return self.stage_channels[-1]

    def forward(self, x: torch.Tensor, num_segments: int, shift_state: ShiftState | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, ShiftState]:
        """``x`` ``[B*T, 3, H, W]`` with ``T = num_segments`` -> ``(feature_map, pooled, shift_state)``.

        ``shift_state``: what the previous call returned (online shift across calls), or
        ``None`` (the first frame's previous frame is zero).
        """
        carries: list[torch.Tensor | None] = [None] * self.num_shifts
        feature_map = x
        for i, stage in enumerate(self.stages(), start=1):
            for module in stage:
                x = _run(module, x, num_segments, shift_state, carries)
            if i == self.feature_stage:
                feature_map = x
        pooled = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if self.pool_head is not None:
            pooled = self.pool_head(pooled)
        return feature_map, pooled, tuple(carries)

    def _add_shifts(self, blocks: list[nn.Module], fold_div: int) -> None:
        for slot, block in enumerate(blocks):
            block.shift = TemporalShift(slot, fold_div)
        self.num_shifts = len(blocks)

    def stage_size(self, input_size: int, stage: int) -> int:
        """Spatial size of stage ``stage``'s map for a square input (every stage halves, rounding up)."""
        size = input_size
        for _ in range(stage + 1):
            size = (size + 1) // 2
        return size


def _run(module: nn.Module, x: torch.Tensor, num_segments: int, state: ShiftState | None,
         carries: list[torch.Tensor | None]) -> torch.Tensor:
    """Apply ``module``; shift blocks get their slot's previous slice and leave their carry in ``carries``."""
    if isinstance(module, ShiftBlock):
        slot = None if module.shift is None else module.shift.slot
        prev = None if state is None or slot is None else state[slot]
        x, carry = module(x, num_segments, prev)
        if slot is not None:
            carries[slot] = carry
        return x
    if type(module) is nn.Sequential:
        for child in module:
            x = _run(child, x, num_segments, state, carries)
        return x
    return module(x)


class _ShiftSlot(ShiftBlock):
    """Gives a torchvision block an empty ``shift`` slot; the backbone fills it where the shift belongs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shift: TemporalShift | None = None


class ShiftBasicBlock(_ShiftSlot, BasicBlock):
    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        identity = x if self.downsample is None else self.downsample(x)
        branch, carry = self.shifted(x, num_segments, prev)
        out = self.relu(self.bn1(self.conv1(branch)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity), carry


class ShiftBottleneck(_ShiftSlot, Bottleneck):
    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        identity = x if self.downsample is None else self.downsample(x)
        branch, carry = self.shifted(x, num_segments, prev)
        out = self.relu(self.bn1(self.conv1(branch)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity), carry


class ResNetTSM(TSMBackbone):
    """torchvision's ResNet layout with a width knob (``width=64`` is the real ResNet)."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int], width: int = 64,
                 shift: bool = True, fold_div: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = width
        for i, num_blocks in enumerate(layers):
            planes, stride = width * 2 ** i, (1 if i == 0 else 2)
            downsample = None
            if stride != 1 or inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(inplanes, planes * block.expansion, 1, stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion))
            blocks = [block(inplanes, planes, stride, downsample)]
            inplanes = planes * block.expansion
            blocks += [block(inplanes, planes) for _ in range(num_blocks - 1)]
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
        self.stage_channels = tuple(width * 2 ** i * block.expansion for i in range(4))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if shift:
            self._add_shifts([b for i in range(4) for b in getattr(self, f'layer{i + 1}')], fold_div)

    def stages(self) -> list[list[nn.Module]]:
        return [[self.conv1, self.bn1, self.relu, self.maxpool, self.layer1], [self.layer2], [self.layer3],
                [self.layer4]]


class ShiftInvertedResidual(_ShiftSlot, InvertedResidual):
    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        if self.use_res_connect:
            branch, carry = self.shifted(x, num_segments, prev)
            return x + self.conv(branch), carry
        return self.conv(x), None


class MobileNetV2TSM(TSMBackbone):
    """torchvision's MobileNetV2 features; ``width`` is its width multiplier.

    ``last_channels`` overrides the final 1x1 conv's 1280 outputs (tiny models).
    """

    _STAGE_ENDS = (4, 7, 14, 19)  # features[:4] stride 4, [:7] stride 8, [:14] 16, [:19] 32

    def __init__(self, width: float = 1.0, shift: bool = True, fold_div: int = 8,
                 last_channels: int | None = None) -> None:
        super().__init__()
        self.features = MobileNetV2(width_mult=width, block=ShiftInvertedResidual).features
        if last_channels is not None:
            in_channels = self.features[17].out_channels
            self.features[18] = Conv2dNormActivation(in_channels, last_channels, kernel_size=1,
                                                     activation_layer=nn.ReLU6)
        self.stage_channels = tuple(self.features[end - 1].out_channels for end in self._STAGE_ENDS)
        if shift:
            self._add_shifts([b for b in self.features
                              if isinstance(b, InvertedResidual) and b.use_res_connect], fold_div)

    def stages(self) -> list[list[nn.Module]]:
        starts = (0,) + self._STAGE_ENDS[:-1]
        return [list(self.features[s:e]) for s, e in zip(starts, self._STAGE_ENDS)]


class _FeatureStages(TSMBackbone):
    """A torchvision ``features`` Sequential cut into 4 stages at ``stage_ends`` (strides 4-32)."""

    stage_ends: tuple[int, ...]

    def _finish(self, blocks: list[nn.Module], shift: bool, fold_div: int) -> None:
        self.stage_channels = tuple(_out_channels(self.features[:end]) for end in self.stage_ends)
        if shift:
            self._add_shifts([b for b in blocks if b.use_res_connect], fold_div)

    def stages(self) -> list[list[nn.Module]]:
        starts = (0,) + self.stage_ends[:-1]
        return [list(self.features[s:e]) for s, e in zip(starts, self.stage_ends)]


def _out_channels(layers: nn.Module) -> int:
    return [m for m in layers.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


class ShiftInvertedResidualV3(_ShiftSlot, tv_mobilenetv3.InvertedResidual):
    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        if self.use_res_connect:
            branch, carry = self.shifted(x, num_segments, prev)
            return x + self.block(branch), carry
        return self.block(x), None


class MobileNetV3TSM(_FeatureStages):
    """torchvision's MobileNetV3-Large features (last conv: 960 channels); ``width`` multiplies widths.

    ``head=True`` adds MobileNetV3's "efficient head" after pooling (torchvision's
    ``classifier[0:2]``: a linear layer to 1280 and a hard swish; gen-efficientnet's
    ``conv_head`` + ``act2``), so the pooled feature is 1280 wide, as GFNet's MobileNetV3
    reads it; torchvision's ImageNet files load their ``classifier.0`` into it. ``bn_eps``:
    torchvision's is 1e-3, gen-efficientnet's (GFNet-Pytorch's models) 1e-5.
    """

    stage_ends = (4, 7, 13, 17)

    def __init__(self, width: float = 1.0, shift: bool = True, fold_div: int = 8, head: bool = False,
                 bn_eps: float = 1e-3) -> None:
        super().__init__()
        setting, last_channel = tv_mobilenetv3._mobilenet_v3_conf('mobilenet_v3_large', width_mult=width)
        net = tv_mobilenetv3.MobileNetV3(setting, last_channel, block=ShiftInvertedResidualV3,
                                         norm_layer=partial(nn.BatchNorm2d, eps=bn_eps, momentum=0.01))
        self.features = net.features
        self._finish([m for m in self.features if isinstance(m, ShiftInvertedResidualV3)], shift, fold_div)
        if head:
            self.pool_head = nn.Sequential(net.classifier[0], nn.Hardswish())
            self.classifier_prefixes = ('classifier.3.',)
            self._register_load_state_dict_pre_hook(_torchvision_head_keys)

    @property
    def out_channels(self) -> int:
        return self.stage_channels[-1] if self.pool_head is None else self.pool_head[0].out_features


def _torchvision_head_keys(state_dict: dict, prefix: str, *args) -> None:
    """Load-state-dict pre-hook: torchvision's ``classifier.0.*`` -> ``pool_head.0.*``."""
    old = f'{prefix}classifier.0.'
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[f'{prefix}pool_head.0.{key[len(old):]}'] = state_dict.pop(key)


class ShiftMBConv(_ShiftSlot, tv_efficientnet.MBConv):
    def forward(self, x: torch.Tensor, num_segments: int = 1, prev: torch.Tensor | None = None):
        if self.use_res_connect:
            branch, carry = self.shifted(x, num_segments, prev)
            return x + self.stochastic_depth(self.block(branch)), carry
        return self.block(x), None


# torchvision's (width, depth) multipliers of the EfficientNet variants gfvideo registers
_EFFICIENTNET_SCALES = {'efficientnet_b0': (1.0, 1.0), 'efficientnet_b2': (1.1, 1.2), 'efficientnet_b3': (1.2, 1.4)}


class EfficientNetTSM(_FeatureStages):
    """torchvision's EfficientNet features of ``arch`` (B0: last conv 1280 channels, B2: 1408, B3: 1536).

    ``width`` multiplies the variant's own width multiplier (tiny models); every variant has
    the same 9 feature modules, so the stage cuts are shared.
    """

    stage_ends = (3, 4, 6, 9)

    def __init__(self, width: float = 1.0, shift: bool = True, fold_div: int = 8,
                 stochastic_depth_prob: float = 0.2, arch: str = 'efficientnet_b0') -> None:
        super().__init__()
        width_mult, depth_mult = _EFFICIENTNET_SCALES[arch]
        setting, last_channel = tv_efficientnet._efficientnet_conf(arch, width_mult=width_mult * width,
                                                                    depth_mult=depth_mult)
        for cnf in setting:
            cnf.block = ShiftMBConv
        net = tv_efficientnet.EfficientNet(setting, dropout=0.2, stochastic_depth_prob=stochastic_depth_prob,
                                           last_channel=last_channel)
        self.features = net.features
        self._finish([m for m in self.features.modules() if isinstance(m, ShiftMBConv)], shift, fold_div)


@BACKBONES.register_module()
def resnet18(**kwargs) -> ResNetTSM:
    return ResNetTSM(ShiftBasicBlock, [2, 2, 2, 2], **kwargs)


@BACKBONES.register_module()
def resnet34(**kwargs) -> ResNetTSM:
    return ResNetTSM(ShiftBasicBlock, [3, 4, 6, 3], **kwargs)


@BACKBONES.register_module()
def resnet50(**kwargs) -> ResNetTSM:
    return ResNetTSM(ShiftBottleneck, [3, 4, 6, 3], **kwargs)


@BACKBONES.register_module()
def mobilenet_v2(**kwargs) -> MobileNetV2TSM:
    return MobileNetV2TSM(**kwargs)


@BACKBONES.register_module()
def mobilenet_v3_large(**kwargs) -> MobileNetV3TSM:
    return MobileNetV3TSM(**kwargs)


@BACKBONES.register_module()
def efficientnet_b0(**kwargs) -> EfficientNetTSM:
    return EfficientNetTSM(**kwargs)


def list_backbones() -> list[str]:
    return sorted(BACKBONES.module_dict)


def build_backbone(name: str | dict, *, pretrained: str | None = None, feature_stage: int = 4,
                   **kwargs) -> TSMBackbone:
    """Build backbone ``name`` from the ``BACKBONES`` registry, optionally loading a torchvision ``.pth``.

    ``name`` is a registered name (``'resnet50'``, or a user's, see README "Your own
    parts") or a ``dict(type=name, **kwargs)``.
    """
    cfg = dict(name) if isinstance(name, dict) else dict(type=name)
    cfg.update(kwargs)
    if BACKBONES.get(cfg['type']) is None:
        raise KeyError(f'unknown backbone {cfg["type"]!r}; available: {", ".join(list_backbones())}')
    if feature_stage not in (1, 2, 3, 4):
        raise ValueError(f'feature_stage must be 1-4, got {feature_stage}')
    backbone = BACKBONES.build(cfg)
    backbone.feature_stage = feature_stage
    if pretrained:
        load_pretrained(backbone, pretrained)
    return backbone


def load_pretrained(backbone: nn.Module, path: str) -> None:
    """Load an ImageNet checkpoint in torchvision naming; the classifier (``classifier_prefixes``) is dropped.

    Every backbone parameter must be found, and every checkpoint key must be used.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'pretrained weights not found: {path}')
    state = torch.load(path, map_location='cpu', weights_only=True)
    state = state.get('state_dict', state)
    state = {k: v for k, v in state.items() if not k.startswith(backbone.classifier_prefixes)}
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'{path} does not match {type(backbone).__name__}: '
                         f'missing {missing[:5]}{"..." if len(missing) > 5 else ""}, '
                         f'unexpected {unexpected[:5]}{"..." if len(unexpected) > 5 else ""}')
