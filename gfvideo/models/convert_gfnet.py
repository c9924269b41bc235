"""GFNet-Pytorch checkpoints (the official image code) -> gfvideo's glance-and-focus recognizer.

A GFNet file (its README, "What are contained in the checkpoints"; ``inference.py`` and
``train.py`` read and write it) is a dict of four state dicts and metadata:

- ``model_prime_state_dict``: the glance ("global") encoder, with its own classifier;
- ``model_state_dict``: the focus ("local") encoder, with its own classifier, which becomes
  gfvideo's ``focus_head`` (the same role: a classifier on the focus features alone);
- ``fc``: the classifier. ResNet / DenseNet / RegNet: ``rnn.{weight,bias}_{ih,hh}_l0`` (an
  ``nn.GRU``) and ``fc.*`` -> ``aggregator.gru.*`` (an ``nn.GRUCell``: the same tensors) and
  ``aggregator.fc.*`` (:class:`~gfvideo.models.gfnet.GFNetGRUAggregator`); the glance
  encoder's classifier is unused at inference and dropped. MobileNetV3 / EfficientNet:
  ``fc_2 .. fc_5`` -> ``aggregator.heads.1 ..`` (:class:`~gfvideo.models.gfnet.GFNetConcatAggregator`),
  the glance encoder's ``classifier`` -> ``aggregator.heads.0`` (GFNet's exit 0); heads past
  the model's T (its ``Full_layer`` always builds four) are dropped;
- ``policy``: ``state_encoder.*``, ``gru.*_l0``, ``actor.0.*``, ``critic.0.*`` ->
  ``policy.*`` (:class:`gfvideo.models.gfnet.GFNetPolicy`, same module names; the MLP
  encoder of ResNet / DenseNet or the conv encoder of the others);
- metadata: ``model_name``, ``patch_size``, ``flops`` (one per exit), ``model_flops``,
  ``policy_flops``, ``fc_flops``, ``anytime_classification``, ``dynamic_threshold``
  (``[39, T]``: max-softmax thresholds per budget level), ``budgeted_batch_classification``
  (``[expected flops per level, accuracy per level]``); training files hold ``epoch``,
  ``acc``, ``best_acc``, ``optimizer``, ``ppo_optimizer`` instead of most of these.

Encoders: ResNet in torchvision naming; MobileNetV3-Large 1.0 (``mobilenetv3_large_100``)
in gen-efficientnet naming (``conv_stem``, ``bn1``, ``blocks.<stage>.<index>.*``, and a
``conv_head`` applied after pooling) -> torchvision's ``features.*`` and gfvideo's
``pool_head`` (:class:`~gfvideo.models.backbones.MobileNetV3TSM` with ``head=True`` and
gen-efficientnet's batch-norm eps, 1e-5). The released files were saved from
``nn.DataParallel`` models, so the encoders' keys may start with ``module.``; training
files have no prefix. Tensors are renamed (the 1x1 ``conv_head`` reshaped to a linear
layer) only; a key the converter doesn't know stops it, naming it. Other models
(DenseNet, RegNet, EfficientNet, MobileNetV3 1.25) fail, naming their ``model_name``.
"""
from __future__ import annotations

import math
import re
from typing import NamedTuple

from .convert import ConversionError

ENCODERS = {'model_prime_state_dict': 'glance.backbone.', 'model_state_dict': 'focus.backbone.'}
# top-level entries that are not tensors to convert
METADATA = ('model_name', 'patch_size', 'flops', 'model_flops', 'policy_flops', 'fc_flops', 'anytime_classification',
            'dynamic_threshold', 'budgeted_batch_classification', 'epoch', 'acc', 'best_acc', 'optimizer',
            'ppo_optimizer')


class GFNetModel(NamedTuple):
    """What a GFNet ``model_name`` is in gfvideo."""
    backbone: str              # gfvideo's backbone (both encoders)
    backbone_kwargs: dict
    aggregator: str            # 'gfnet_gru' or 'gfnet_concat'
    policy_encoder: str        # 'mlp' or 'conv'
    policy_hidden: int         # when the file holds no policy (stage 1)
    exits: int                 # GFNet's released T, when the file has no ``flops``
    classifier: str            # the encoders' own classifier's key prefix


MODELS = {
    'resnet50': GFNetModel('resnet50', {}, 'gfnet_gru', 'mlp', 1024, 5, 'fc.'),
    'mobilenetv3_large_100': GFNetModel('mobilenet_v3_large', dict(head=True, bn_eps=1e-5), 'gfnet_concat', 'conv',
                                        256, 3, 'classifier.'),
}
_RESNET = re.compile(r'^(conv1|bn1|layer[1-4])\.')
_GRU = re.compile(r'^(weight|bias)_(ih|hh)_l0$')
_GEN_BLOCK = re.compile(r'^blocks\.(\d+)\.(\d+)\.(.+)$')
# gen-efficientnet's module names inside a block -> torchvision's MobileNetV3 names
_DEPTHWISE_SEPARABLE = {'conv_dw': 'block.0.0', 'bn1': 'block.0.1', 'conv_pw': 'block.1.0', 'bn2': 'block.1.1'}
_INVERTED_RESIDUAL = {'conv_pw': 'block.0.0', 'bn1': 'block.0.1', 'conv_dw': 'block.1.0', 'bn2': 'block.1.1',
                      'se.conv_reduce': 'block.2.fc1', 'se.conv_expand': 'block.2.fc2'}
_CONV_BN_ACT = {'conv': '0', 'bn1': '1'}


def _family(checkpoint: dict) -> GFNetModel:
    name = checkpoint.get('model_name', 'resnet50')
    if name not in MODELS:
        raise ConversionError(f'gfnet: no gfvideo model for model_name={name!r} yet; supported: {sorted(MODELS)}')
    return MODELS[name]


def _mobilenetv3(state: dict, section: str) -> dict:
    """gen-efficientnet MobileNetV3-Large names -> torchvision ``features.*`` / ``pool_head.*`` (see module doc)."""
    modules: dict[tuple[int, int], set[str]] = {}    # each block's own modules, e.g. {'conv_pw', 'se.conv_reduce', ...}
    for m in filter(None, map(_GEN_BLOCK.match, state)):
        modules.setdefault((int(m[1]), int(m[2])), set()).add(m[3].rsplit('.', 1)[0])
    index = {block: i + 1 for i, block in enumerate(sorted(modules))}     # features.0 is the stem
    out = {}
    for key, value in state.items():
        m = _GEN_BLOCK.match(key)
        if key.startswith(('conv_stem.', 'bn1.')):
            out[('features.0.0.' if key.startswith('conv_stem.') else 'features.0.1.') + key.split('.', 1)[1]] = value
        elif key in ('conv_head.weight', 'conv_head.bias'):       # a 1x1 conv on the pooled map: a linear layer
            out['pool_head.0.' + key.split('.', 1)[1]] = value.flatten(1) if value.dim() == 4 else value
        elif m:
            block = (int(m[1]), int(m[2]))
            module, leaf = m[3].rsplit('.', 1)
            names = _block_names(modules[block])
            if module not in names:
                raise ConversionError(f'gfnet: no gfvideo name for {section}[{key!r}] '
                                      f'(MobileNetV3 block {m[1]}.{m[2]})')
            out[f'features.{index[block]}.{names[module]}.{leaf}'] = value
        else:
            raise ConversionError(f'gfnet: no gfvideo name for {section}[{key!r}] '
                                  f'(MobileNetV3, gen-efficientnet naming)')
    return out


def _block_names(modules: set[str]) -> dict[str, str]:
    """The name map of one gen-efficientnet block, by the modules it has."""
    if 'conv_pwl' in modules:                      # inverted residual; the projection follows the SE if any
        project = 'block.3' if 'se.conv_reduce' in modules else 'block.2'
        return {**_INVERTED_RESIDUAL, 'conv_pwl': f'{project}.0', 'bn3': f'{project}.1'}
    if 'conv_dw' in modules:
        return _DEPTHWISE_SEPARABLE
    return _CONV_BN_ACT


def _encoder(state: dict, section: str, family: GFNetModel) -> dict:
    """One encoder's tensors -> gfvideo names; its own classifier -> ``focus_head`` / ``aggregator.heads.0``."""
    prefix, out, own, tensors = ENCODERS[section], {}, {}, {}
    wrapped = all(key.startswith('module.') for key in state)           # saved from nn.DataParallel
    where = f'{section} (keys without their "module." prefix)' if wrapped else section
    for key, value in state.items():
        name = key[len('module.'):] if wrapped else key
        if name.startswith(family.classifier):
            own[name[len(family.classifier):]] = value
        else:
            tensors[name] = value
    if family.backbone == 'resnet50':
        for name, value in tensors.items():
            if not _RESNET.match(name):
                raise ConversionError(f'gfnet: no gfvideo name for {where}[{name!r}] '
                                      f'(ResNet encoders, torchvision naming)')
            out[prefix + name] = value
    else:
        out.update({prefix + k: v for k, v in _mobilenetv3(tensors, where).items()})
    if section == 'model_state_dict':
        out.update({'focus_head.' + k: v for k, v in own.items()})
    elif family.aggregator == 'gfnet_concat':   # exit 0 of GFNet's MobileNetV3: the glance encoder's classifier
        out.update({'aggregator.heads.0.' + k: v for k, v in own.items()})
    # else: the ResNet glance encoder's classifier, unused by GFNet's model at inference
    return out


def _gru(name: str) -> str | None:
    m = _GRU.match(name)
    return f'{m[1]}_{m[2]}' if m else None


def _classifier(state: dict, exits: int) -> dict:
    out = {}
    for key, value in state.items():
        length = re.match(r'^fc_([2-5])\.(weight|bias)$', key)
        if key.startswith('rnn.') and _gru(key[4:]):
            out['aggregator.gru.' + _gru(key[4:])] = value
        elif key in ('fc.weight', 'fc.bias'):
            out['aggregator.' + key] = value
        elif length:
            if int(length[1]) <= exits:          # Full_layer builds fc_2..fc_5 whatever T is
                out[f'aggregator.heads.{int(length[1]) - 1}.{length[2]}'] = value
        else:
            raise ConversionError(f'gfnet: no gfvideo name for fc[{key!r}] (a GRU classifier, or fc_2..fc_5)')
    return out


def _policy(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        if key.startswith('gru.') and _gru(key[4:]):
            out['policy.gru.' + _gru(key[4:])] = value
        elif re.match(r'^(state_encoder\.\d+|actor\.0|critic\.0)\.(weight|bias)$', key):
            out['policy.' + key] = value
        else:
            raise ConversionError(f'gfnet: no gfvideo name for policy[{key!r}]')
    return out


def _exits(checkpoint: dict) -> int:
    """GFNet's T (exits, the glance included): ``len(flops)``, else the family's released T."""
    return len(checkpoint['flops']) if 'flops' in checkpoint else _family(checkpoint).exits


def from_gfnet(checkpoint: dict) -> dict:
    """A GFNet-Pytorch checkpoint dict -> gfvideo ``GlanceFocusRecognizer`` tensors (see the module doc)."""
    unknown = [k for k in checkpoint if k not in ENCODERS and k not in ('fc', 'policy') and k not in METADATA]
    if unknown:
        raise ConversionError(f'gfnet: unknown checkpoint entry {unknown[0]!r}; a GFNet file holds '
                              f'{sorted((*ENCODERS, "fc", "policy"))} and metadata {list(METADATA)}')
    missing = [k for k in (*ENCODERS, 'fc') if k not in checkpoint]
    if missing:
        raise ConversionError(f'gfnet: the checkpoint has no {missing[0]!r}: not a GFNet-Pytorch file')
    family = _family(checkpoint)
    out = {}
    for section in ENCODERS:
        out.update(_encoder(checkpoint[section], section, family))
    out.update(_classifier(checkpoint['fc'], _exits(checkpoint)))
    if checkpoint.get('policy') is not None:   # stage-1 training files hold policy=None
        out.update(_policy(checkpoint['policy']))
    return out


def gfnet_config(checkpoint: dict, num_classes: int = 1000, input_size: int = 224) -> dict:
    """The gfvideo model config that the converted tensors load into.

    GFNet's T (exits, the glance included) is ``len(flops)``; gfvideo's ``num_steps`` is T - 1.
    """
    patch = int(checkpoint['patch_size'])
    family = _family(checkpoint)
    backbone, kwargs = family.backbone, family.backbone_kwargs
    policy = checkpoint.get('policy')
    hidden = policy['gru.weight_hh_l0'].shape[1] if policy is not None else family.policy_hidden
    if family.aggregator == 'gfnet_gru':
        aggregator_cfg = dict(type='gfnet_gru', hidden=checkpoint['fc']['rnn.weight_hh_l0'].shape[1])
    else:
        aggregator_cfg = dict(type='gfnet_concat', dropout=0.2)   # gen-efficientnet's drop_rate for MobileNetV3
    return dict(type='GlanceFocusRecognizer', num_classes=num_classes, num_frames=1, input_size=input_size,
                glance=dict(backbone=backbone, size=patch, feature_stage=4, min_cells=1, **kwargs,
                            resize=dict(mode='bicubic', align_corners=True, antialias=False)),
                focus=dict(backbone=backbone, patch=patch, rounding='floor', **kwargs),
                policy=dict(type='gfnet', map_size=math.ceil(patch / 32), encoder=family.policy_encoder, hidden=hidden),
                aggregator=aggregator_cfg, num_steps=_exits(checkpoint) - 1, frames_per_step=1, revisit=True)


def gfnet_thresholds(checkpoint: dict) -> dict[float, list[float]] | None:
    """The stored early-exit thresholds by expected cost, for gfvideo's sidecar (None when absent).

    ``dynamic_threshold[p]`` are max-softmax thresholds per exit at budget level ``p``;
    its expected cost is ``budgeted_batch_classification[0][p]`` (the checkpoint's own unit:
    GFNet's Multiply-Adds per image); without it the levels are keyed 1, 2, ... The last
    threshold (GFNet: -1e8, everything still running leaves) becomes 0.0, gfvideo's form.
    """
    table = checkpoint.get('dynamic_threshold')
    if table is None:
        return None
    rows = [[float(t) for t in row] for row in table]
    costs = checkpoint.get('budgeted_batch_classification')
    keys = [float(c) for c in costs[0]] if costs else [float(i + 1) for i in range(len(rows))]
    if len(keys) != len(rows):
        raise ConversionError(f'gfnet: {len(rows)} threshold rows but {len(keys)} budgets')
    return {k: [*row[:-1], 0.0] for k, row in zip(keys, rows)}
