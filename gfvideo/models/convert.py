"""Checkpoint naming: torchvision, mmaction2 and TSM-official state dicts to gfvideo's, and back.

gfvideo's backbones use torchvision's parameter names (``backbone.layer1.0.conv1.weight``),
so a torchvision ImageNet file is already in our naming (minus its classifier). The static
TSM recognizer is ``backbone.*`` plus ``fc.*`` (one linear layer per frame, averaged).

- **mmaction2** (``Recognizer2D`` with ``ResNetTSM`` or ``MobileNetV2TSM`` and ``TSMHead``):
  ``ConvModule`` layers are ``conv``/``bn`` pairs, the shifted conv sits in a
  ``TemporalShift`` wrapper (``.net``), MobileNetV2 blocks are grouped into ``layer1..7``,
  and the head is ``cls_head.fc_cls``.
- **TSM-official** (ResNet): ``module.base_model.*`` with ``.net`` on shifted convs, and
  ``module.new_fc.*``.

Each converter renames keys only (no tensor changes) and fails on a key it doesn't know,
naming it, so a checkpoint is either converted completely or not at all. (What is left out
on purpose is not unknown: torchvision's classifier, and in ``to_torchvision`` the parts of
the model outside the backbone's prefix.)
"""
from __future__ import annotations

import re
from collections.abc import Callable

import torch

FORMATS = ('torchvision', 'mmaction2', 'tsm_official')

# MobileNetV2 (torchvision / mmaction2): blocks per mmaction2 layer; torchvision's
# features.0 is the stem, features.1..17 the blocks, features.18 the last 1x1 conv.
_MBV2_LAYERS = (1, 2, 3, 4, 3, 3, 1)


class ConversionError(KeyError):
    """A key the converter doesn't know: the checkpoint is not in the format named."""


def _strip(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _rename(state: dict, rule: Callable[[str], str | None], fmt: str, prefix: str = '') -> dict:
    out = {}
    for key, value in state.items():
        new = rule(key)
        if new is None:
            raise ConversionError(f'{fmt}: no gfvideo name for {prefix + key!r}')
        out[new] = value
    return out


def _mbv2_block_index(layer: int, block: int) -> int:
    return 1 + sum(_MBV2_LAYERS[:layer - 1]) + block


def _mbv2_layer_block(index: int) -> tuple[int, int]:
    i = index - 1
    for layer, n in enumerate(_MBV2_LAYERS, start=1):
        if i < n:
            return layer, i
        i -= n
    raise ConversionError(f'MobileNetV2 has no block features.{index}')


def _mmaction2_resnet(key: str) -> str | None:
    key = key.replace('.conv.net.', '.conv.')
    for pattern, repl in ((r'^conv1\.conv\.(.*)$', r'conv1.\1'), (r'^conv1\.bn\.(.*)$', r'bn1.\1'),
                          (r'^(layer\d\.\d+)\.conv(\d)\.conv\.(.*)$', r'\1.conv\2.\3'),
                          (r'^(layer\d\.\d+)\.conv(\d)\.bn\.(.*)$', r'\1.bn\2.\3'),
                          (r'^(layer\d\.\d+)\.downsample\.conv\.(.*)$', r'\1.downsample.0.\2'),
                          (r'^(layer\d\.\d+)\.downsample\.bn\.(.*)$', r'\1.downsample.1.\2')):
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    return None


def _mmaction2_mobilenet_v2(key: str, expands: dict[int, bool]) -> str | None:
    key = key.replace('.net.', '.')
    m = re.match(r'^conv([12])\.(conv|bn)\.(.*)$', key)
    if m:
        return f"features.{0 if m[1] == '1' else 18}.{0 if m[2] == 'conv' else 1}.{m[3]}"
    m = re.match(r'^layer(\d)\.(\d+)\.conv\.(\d)\.(conv|bn)\.(.*)$', key)
    if not m:
        return None
    index = _mbv2_block_index(int(m[1]), int(m[2]))
    part, kind, rest = int(m[3]), m[4], m[5]
    last = 2 if expands[index] else 1                       # the linear 1x1 projection
    if part < last:                                          # Conv2dNormActivation: .0 conv, .1 bn
        return f"features.{index}.conv.{part}.{0 if kind == 'conv' else 1}.{rest}"
    return f"features.{index}.conv.{last + (kind == 'bn')}.{rest}"


def from_mmaction2(state: dict) -> dict:
    """An mmaction2 TSM recognizer's state dict -> gfvideo ``StaticTSM`` names."""
    state = state.get('state_dict', state)
    backbone = _strip(state, 'backbone.')
    head = _strip(state, 'cls_head.fc_cls.')
    unknown = [k for k in state if not k.startswith(('backbone.', 'cls_head.fc_cls.', 'data_preprocessor.'))]
    if unknown:
        raise ConversionError(f'mmaction2: no gfvideo name for {unknown[0]!r}')
    if any(k.startswith('layer1.0.conv.') for k in backbone):   # MobileNetV2TSM
        blocks = {}
        for k in backbone:
            m = re.match(r'^layer(\d)\.(\d+)\.conv\.(\d)\.', k)
            if m:
                index = _mbv2_block_index(int(m[1]), int(m[2]))
                blocks[index] = max(blocks.get(index, 0), int(m[3]))
        expands = {i: top == 2 for i, top in blocks.items()}
        renamed = _rename(backbone, lambda k: _mmaction2_mobilenet_v2(k, expands), 'mmaction2', 'backbone.')
    else:
        renamed = _rename(backbone, _mmaction2_resnet, 'mmaction2', 'backbone.')
    out = {f'backbone.{k}': v for k, v in renamed.items()}
    out.update({f'fc.{k}': v for k, v in head.items()})
    return out


def to_mmaction2(state: dict) -> dict:
    """gfvideo ``StaticTSM`` names -> mmaction2's (ResNetTSM or MobileNetV2TSM, every residual
    block shifted, as mmaction2's TSM configs build them)."""
    backbone = _strip(state, 'backbone.')
    out = {}
    if any(k.startswith('features.') for k in backbone):
        for key, value in backbone.items():
            m = re.match(r'^features\.(\d+)\.(.*)$', key)
            index, rest = int(m[1]), m[2]
            if index in (0, 18):
                part, tail = rest.split('.', 1)
                out[f"conv{1 if index == 0 else 2}.{'conv' if part == '0' else 'bn'}.{tail}"] = value
                continue
            layer, block = _mbv2_layer_block(index)
            expands = f'features.{index}.conv.3.weight' in backbone
            residual = _mbv2_residual(index)
            m = re.match(r'^conv\.(\d)\.(?:(\d)\.)?(.*)$', rest)
            part, sub, tail = int(m[1]), m[2], m[3]
            last = 2 if expands else 1
            if part < last:
                name, kind = part, 'conv' if sub == '0' else 'bn'
            else:
                name, kind = last, 'conv' if part == last else 'bn'
            net = '.net' if name == 0 and residual and expands else ''
            out[f'layer{layer}.{block}.conv.{name}{net}.{kind}.{tail}'] = value
    else:
        for key, value in backbone.items():
            for pattern, repl in ((r'^conv1\.(.*)$', r'conv1.conv.\1'), (r'^bn1\.(.*)$', r'conv1.bn.\1'),
                                  (r'^(layer\d\.\d+)\.conv1\.(.*)$', r'\1.conv1.conv.net.\2'),
                                  (r'^(layer\d\.\d+)\.conv(\d)\.(.*)$', r'\1.conv\2.conv.\3'),
                                  (r'^(layer\d\.\d+)\.bn(\d)\.(.*)$', r'\1.conv\2.bn.\3'),
                                  (r'^(layer\d\.\d+)\.downsample\.0\.(.*)$', r'\1.downsample.conv.\2'),
                                  (r'^(layer\d\.\d+)\.downsample\.1\.(.*)$', r'\1.downsample.bn.\2')):
                if re.match(pattern, key):
                    out[re.sub(pattern, repl, key)] = value
                    break
            else:
                raise ConversionError(f'gfvideo: no mmaction2 name for backbone.{key!r}')
    result = {f'backbone.{k}': v for k, v in out.items()}
    result.update({f'cls_head.fc_cls.{k}': v for k, v in _strip(state, 'fc.').items()})
    return result


def _mbv2_residual(index: int) -> bool:
    """Whether torchvision's MobileNetV2 block ``features.index`` has a residual connection
    (mmaction2 shifts exactly those with an expansion conv)."""
    layer, block = _mbv2_layer_block(index)
    return block > 0 and layer != 1  # the first block of a layer changes width or stride


def from_tsm_official(state: dict) -> dict:
    """A TSM-official (ResNet) checkpoint -> gfvideo ``StaticTSM`` names."""
    state = state.get('state_dict', state)

    def rule(key: str) -> str | None:
        if key.startswith('module.new_fc.'):
            return 'fc.' + key[len('module.new_fc.'):]
        if key.startswith('module.base_model.') and not key.startswith('module.base_model.fc.'):
            return 'backbone.' + key[len('module.base_model.'):].replace('.net.', '.')
        return None
    return _rename(state, rule, 'tsm_official')


def to_tsm_official(state: dict) -> dict:
    """gfvideo ``StaticTSM`` (ResNet) names -> TSM-official's (residual shift on every block's conv1)."""
    def rule(key: str) -> str | None:
        if key.startswith('fc.'):
            return 'module.new_fc.' + key[3:]
        if key.startswith('backbone.'):
            return 'module.base_model.' + re.sub(r'^(layer\d\.\d+)\.conv1\.', r'\1.conv1.net.', key[9:])
        return None
    return _rename(state, rule, 'gfvideo')


# torchvision's backbone names (ResNet: conv1, bn1, layer1-4; MobileNetV2/V3 and
# EfficientNet: features) and its classifiers (dropped), which gfvideo's backbones share.
_TORCHVISION_BACKBONE = re.compile(r'^(conv1|bn1|layer[1-4]|features)\.')
_TORCHVISION_CLASSIFIER = ('fc.', 'classifier.')


def _torchvision_key(key: str, fmt: str, prefix: str = '') -> str:
    if not _TORCHVISION_BACKBONE.match(key):
        raise ConversionError(f'{fmt}: {prefix + key!r} is not a torchvision ResNet / MobileNet / '
                              f'EfficientNet backbone key (conv1, bn1, layer1-4, features)')
    return key


def from_torchvision(state: dict, prefix: str = 'backbone.') -> dict:
    """A torchvision ImageNet file -> backbone weights under ``prefix`` (the classifier dropped):
    ``backbone.`` for the static TSM, ``glance.backbone.`` / ``focus.backbone.`` for the
    glance-and-focus recognizer. Any other key (a ``module.`` prefix, another model's
    naming) fails, naming it."""
    state = state.get('state_dict', state)
    return {prefix + _torchvision_key(k, 'torchvision'): v for k, v in state.items()
            if not k.startswith(_TORCHVISION_CLASSIFIER)}


def to_torchvision(state: dict, prefix: str = 'backbone.') -> dict:
    """Backbone weights under ``prefix`` -> torchvision naming (no classifier). Fails when no key
    is under ``prefix`` or one under it is not a torchvision backbone key."""
    backbone = _strip(state, prefix)
    if not backbone:
        raise ConversionError(f'gfvideo: no key starts with {prefix!r} (the backbone prefix)')
    return {_torchvision_key(k, 'gfvideo', prefix): v for k, v in backbone.items()}


CONVERTERS: dict[tuple[str, str], Callable[..., dict]] = {
    ('mmaction2', 'gfvideo'): from_mmaction2, ('gfvideo', 'mmaction2'): to_mmaction2,
    ('tsm_official', 'gfvideo'): from_tsm_official, ('gfvideo', 'tsm_official'): to_tsm_official,
    ('torchvision', 'gfvideo'): from_torchvision, ('gfvideo', 'torchvision'): to_torchvision,
}


def load_state(path: str) -> dict:
    """A checkpoint's tensors (``state_dict`` unwrapped), loaded safely (``weights_only``)."""
    state = torch.load(path, map_location='cpu', weights_only=True)
    return state.get('state_dict', state) if isinstance(state, dict) else state
