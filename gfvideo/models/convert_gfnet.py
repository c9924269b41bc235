"""GFNet-Pytorch checkpoints (the official image code) -> gfvideo's glance-and-focus recognizer.

A GFNet file (its README, "What are contained in the checkpoints"; ``inference.py`` and
``train.py`` read and write it) is a dict of four state dicts and metadata:

- ``model_prime_state_dict``: the glance ("global") encoder, torchvision ResNet naming,
  with its own ``fc`` (deep supervision during training; unused by the ResNet model at
  inference: dropped);
- ``model_state_dict``: the focus ("local") encoder, same naming; its ``fc`` becomes
  gfvideo's ``focus_head`` (the same role: a classifier on the focus features alone);
- ``fc``: the classifier, ``rnn.{weight,bias}_{ih,hh}_l0`` (an ``nn.GRU``) and ``fc.*``
  -> ``aggregator.gru.*`` (an ``nn.GRUCell``: the same tensors) and ``aggregator.fc.*``
  (:class:`gfvideo.models.gfnet.GFNetGRUAggregator`);
- ``policy``: ``state_encoder.*``, ``gru.*_l0``, ``actor.0.*``, ``critic.0.*`` ->
  ``policy.*`` (:class:`gfvideo.models.gfnet.GFNetPolicy`, same module names);
- metadata: ``model_name``, ``patch_size``, ``flops`` (one per exit), ``model_flops``,
  ``policy_flops``, ``fc_flops``, ``anytime_classification``, ``dynamic_threshold``
  (``[39, T]``: max-softmax thresholds per budget level), ``budgeted_batch_classification``
  (``[expected flops per level, accuracy per level]``); training files hold ``epoch``,
  ``acc``, ``best_acc``, ``optimizer``, ``ppo_optimizer`` instead of most of these.

The released files were saved from ``nn.DataParallel`` models, so the encoders' keys may
start with ``module.``; training files have no prefix. Tensors are renamed only; a key
the converter doesn't know stops it, naming it. Supported: ResNet encoders with the GRU
classifier and the MLP state encoder (``resnet50``); the MobileNetV3 / EfficientNet files
(``fc_2 .. fc_5`` classifiers, gen-efficientnet's ``conv_stem`` / ``blocks`` names) fail,
naming their first key.
"""
from __future__ import annotations

import math
import re

from .convert import ConversionError

ENCODERS = {'model_prime_state_dict': 'glance.backbone.', 'model_state_dict': 'focus.backbone.'}
# top-level entries that are not tensors to convert
METADATA = ('model_name', 'patch_size', 'flops', 'model_flops', 'policy_flops', 'fc_flops', 'anytime_classification',
            'dynamic_threshold', 'budgeted_batch_classification', 'epoch', 'acc', 'best_acc', 'optimizer',
            'ppo_optimizer')
_RESNET = re.compile(r'^(conv1|bn1|layer[1-4])\.')
_GRU = re.compile(r'^(weight|bias)_(ih|hh)_l0$')


def _encoder(state: dict, section: str) -> dict:
    prefix, out = ENCODERS[section], {}
    for key, value in state.items():
        name = key[len('module.'):] if key.startswith('module.') else key
        if _RESNET.match(name):
            out[prefix + name] = value
        elif name.startswith('fc.'):
            if section == 'model_state_dict':
                out['focus_head.' + name[3:]] = value
            # the glance encoder's own classifier: unused by GFNet's ResNet model at inference
        else:
            raise ConversionError(f'gfnet: no gfvideo name for {section}[{key!r}] '
                                  f'(only ResNet encoders, torchvision naming, are supported)')
    return out


def _gru(name: str) -> str | None:
    m = _GRU.match(name)
    return f'{m[1]}_{m[2]}' if m else None


def _classifier(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        if key.startswith('rnn.') and _gru(key[4:]):
            out['aggregator.gru.' + _gru(key[4:])] = value
        elif key in ('fc.weight', 'fc.bias'):
            out['aggregator.' + key] = value
        else:
            raise ConversionError(f'gfnet: no gfvideo name for fc[{key!r}] (only the GRU classifier of the '
                                  f'ResNet / DenseNet / RegNet models is supported)')
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


def from_gfnet(checkpoint: dict) -> dict:
    """A GFNet-Pytorch checkpoint dict -> gfvideo ``GlanceFocusRecognizer`` tensors (see the module doc)."""
    unknown = [k for k in checkpoint if k not in ENCODERS and k not in ('fc', 'policy') and k not in METADATA]
    if unknown:
        raise ConversionError(f'gfnet: unknown checkpoint entry {unknown[0]!r}; a GFNet file holds '
                              f'{sorted((*ENCODERS, "fc", "policy"))} and metadata {list(METADATA)}')
    missing = [k for k in (*ENCODERS, 'fc') if k not in checkpoint]
    if missing:
        raise ConversionError(f'gfnet: the checkpoint has no {missing[0]!r}: not a GFNet-Pytorch file')
    out = {}
    for section in ENCODERS:
        out.update(_encoder(checkpoint[section], section))
    out.update(_classifier(checkpoint['fc']))
    if checkpoint.get('policy') is not None:   # stage-1 training files hold policy=None
        out.update(_policy(checkpoint['policy']))
    return out


def gfnet_config(checkpoint: dict, num_classes: int = 1000, input_size: int = 224) -> dict:
    """The gfvideo model config that the converted tensors load into (ResNet-50 files).

    GFNet's T (exits, the glance included) is ``len(flops)``; gfvideo's ``num_steps`` is T - 1.
    """
    patch = int(checkpoint['patch_size'])
    name = checkpoint.get('model_name', 'resnet50')
    if name != 'resnet50':
        raise ConversionError(f'gfnet: no gfvideo config for model_name={name!r} yet (resnet50 only)')
    exits = len(checkpoint['flops']) if 'flops' in checkpoint else 5
    policy = checkpoint.get('policy')
    hidden = policy['gru.weight_hh_l0'].shape[1] if policy is not None else 1024
    return dict(type='GlanceFocusRecognizer', num_classes=num_classes, num_frames=1, input_size=input_size,
                glance=dict(backbone=name, size=patch, feature_stage=4, min_cells=1,
                            resize=dict(mode='bicubic', align_corners=True, antialias=False)),
                focus=dict(backbone=name, patch=patch, rounding='floor'),
                policy=dict(type='gfnet', map_size=math.ceil(patch / 32), encoder='mlp', hidden=hidden),
                aggregator=dict(type='gfnet_gru', hidden=checkpoint['fc']['rnn.weight_hh_l0'].shape[1]),
                num_steps=exits - 1, frames_per_step=1, revisit=True)


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
