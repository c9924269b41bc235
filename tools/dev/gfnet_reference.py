"""Make tests/fixtures/gfnet_<model>.json: GFNet-Pytorch's own predictions, step by step, for seeded weights.

Not part of gfvideo's dependencies: it runs the official model code from a local checkout
of github.com/blackfeather-wang/GFNet-Pytorch (its ``network.py``, ``models/``, ``utils.py``
and ``configs.py``; nothing of it is copied into gfvideo)::

    python tools/dev/gfnet_reference.py /path/to/GFNet-Pytorch tests/fixtures/gfnet_r50.json
    python tools/dev/gfnet_reference.py /path/to/GFNet-Pytorch tests/fixtures/gfnet_mbv3.json \\
        --model mobilenetv3_large_100

It builds the model (ResNet-50, patch 96, T = 5; or MobileNetV3-Large, patch 96, T = 3) on
the CPU (``.cuda()`` patched to a no-op; ``torch._six``, gone from current torch, stood in
for with ``collections.abc``), fills the four state dicts of a GFNet checkpoint from one
seeded generator (``tests/test_gfnet_convert.seeded_state``: no weight file needed), loads
them with ``strict=True``, runs seeded 224 x 224 images (``seeded_images``) through every
step exactly as ``inference.py``'s ``generate_logits`` does (glance: ``get_prime``; exit 0:
the GRU classifier, or the glance encoder's own ``classifier`` for MobileNetV3; policy:
``ActorCritic.act``, the mean at test time; patch: ``get_patch``; classifier:
``Full_layer``), and writes the checkpoint layout (every key and shape), the per-step
actions and a slice plus checksums of the per-step logits. ``tests/test_gfnet_convert.py``
regenerates the same weights from that layout, converts them and requires gfvideo to give
the same actions and logits.
"""
from __future__ import annotations

import argparse
import collections.abc
import importlib.util
import json
import math
import subprocess
import sys
import types
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_SEED, INPUT_SEED, BATCH, SLICE = 0, 1, 2, 16
# gain: seeded_state's batch-norm scale; at 1.7 MobileNetV3's logits are O(1) and differ between images
CONFIGS = {'resnet50': dict(model_name='resnet50', image_size=224, patch_size=96, T=5, num_classes=1000),
           'mobilenetv3_large_100': dict(model_name='mobilenetv3_large_100', image_size=224, patch_size=96, T=3,
                                         num_classes=1000, gain=1.7)}


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summarise(logits: torch.Tensor) -> dict:
    """What the fixture keeps of one step's logits ``[B, classes]``."""
    return dict(slice=[[round(float(v), 7) for v in row[:SLICE]] for row in logits],
                sum=[round(float(v), 6) for v in logits.sum(1)], abs_sum=[round(float(v), 6) for v in logits.abs().sum(1)],
                argmax=[int(v) for v in logits.argmax(1)],
                max_prob=[round(float(v), 7) for v in logits.softmax(1).amax(1)])


def _encoders(checkout: Path, name: str) -> tuple[nn.Module, nn.Module]:
    """``inference.py``'s model construction: (model, model_prime)."""
    if name == 'resnet50':
        resnet = _load(checkout / 'models' / 'resnet.py', 'gfnet_resnet')
        return resnet.resnet50(pretrained=False), resnet.resnet50(pretrained=False)
    six = types.ModuleType('torch._six')       # gen-efficientnet's conv2d_layers imports torch._six
    six.container_abcs, six.string_classes, six.int_classes = collections.abc, (str, bytes), int
    sys.modules.setdefault('torch._six', six)
    from models import create_model            # the checkout's gen-efficientnet package (on sys.path)
    return tuple(create_model(name, pretrained=False, num_classes=1000, drop_rate=0.2, drop_connect_rate=0.2)
                 for _ in range(2))


def main(checkout: Path, fixture: Path, name: str) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(checkout))
    from tests.test_gfnet_convert import seeded_images, seeded_state
    torch.Tensor.cuda = lambda self, *args, **kwargs: self      # the official code calls .cuda() throughout
    nn.Module.cuda = lambda self, *args, **kwargs: self
    config = CONFIGS[name]
    network = _load(checkout / 'network.py', 'gfnet_network')
    utils = _load(checkout / 'utils.py', 'gfnet_utils')
    conf = _load(checkout / 'configs.py', 'gfnet_configs').model_configurations[name]
    patch, size, steps = config['patch_size'], config['image_size'], config['T']

    model, model_prime = _encoders(checkout, name)
    state_dim = conf['feature_map_channels'] * math.ceil(patch / 32) ** 2
    policy = network.ActorCritic(conf['feature_map_channels'], state_dim, conf['policy_hidden_dim'], conf['policy_conv'])
    fc = network.Full_layer(conf['feature_num'], conf['fc_hidden_dim'], conf['fc_rnn'])
    parts = dict(model_prime_state_dict=model_prime, model_state_dict=model, fc=fc, policy=policy)
    layout = [[section, key, list(t.shape), str(t.dtype).replace('torch.', '')]
              for section, part in parts.items() for key, t in part.state_dict().items()]
    checkpoint = seeded_state(layout, WEIGHTS_SEED, config.get('gain', 1.0))
    for section, part in parts.items():
        part.load_state_dict(checkpoint[section], strict=True)
        part.eval()

    x = seeded_images(BATCH, size, INPUT_SEED)
    memory = network.Memory()
    steps_out = []
    with torch.no_grad():                                   # inference.py: generate_logits
        output, state = model_prime(utils.get_prime(x, patch, conf['prime_interpolation']))
        if conf['fc_rnn']:
            output = fc(output, restart=True)
        else:                                               # MobileNetV3 / EfficientNet
            fc(output, restart=True)
            output = model_prime.classifier(output)
        steps_out.append(dict(logits=summarise(output)))
        for step in range(1, steps):
            action = policy.act(state, memory, restart_batch=step == 1)
            patches = utils.get_patch(x, action, patch)
            output, state = model(patches)
            output = fc(output, restart=False)
            corner = torch.floor(action * (size - patch)).int()
            steps_out.append(dict(action=[[round(float(v), 7) for v in row] for row in action],
                                  corner=corner.tolist(), logits=summarise(output)))
    commit = subprocess.run(['git', '-C', str(checkout), 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    result = dict(source='github.com/blackfeather-wang/GFNet-Pytorch', commit=commit or None, config=config,
                  weights_seed=WEIGHTS_SEED, input_seed=INPUT_SEED, batch=BATCH, torch=torch.__version__,
                  steps=steps_out, layout=layout)
    fixture.write_text(json.dumps(result, separators=(',', ':')) + '\n')
    print(f'{fixture}: {fixture.stat().st_size / 1024:.1f} KB, {len(layout)} tensors, {steps} steps')


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkout', type=Path, help='a local clone of GFNet-Pytorch')
    parser.add_argument('fixture', type=Path, help='the JSON file to write')
    parser.add_argument('--model', default='resnet50', choices=sorted(CONFIGS))
    args = parser.parse_args()
    main(args.checkout, args.fixture, args.model)
