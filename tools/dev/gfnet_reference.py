"""Make tests/fixtures/gfnet_r50.json: GFNet-Pytorch's own predictions, step by step, for seeded weights.

Not part of gfvideo's dependencies: it runs the official model code from a local checkout
of github.com/blackfeather-wang/GFNet-Pytorch (its ``network.py``, ``models/resnet.py``,
``utils.py`` and ``configs.py``; nothing of it is copied into gfvideo)::

    python tools/dev/gfnet_reference.py /path/to/GFNet-Pytorch tests/fixtures/gfnet_r50.json

It builds the ResNet-50 model (patch 96, T = 5) on the CPU (``.cuda()`` patched to a no-op),
fills the four state dicts of a GFNet checkpoint from one seeded generator
(``tests/test_gfnet_convert.seeded_state``: no weight file needed), loads them with
``strict=True``, runs seeded 224 x 224 images (``seeded_images``) through every step exactly as ``inference.py``'s
``generate_logits`` does (glance: ``get_prime``, bicubic; policy: ``ActorCritic.act``, the mean
at test time; patch: ``get_patch``; classifier: ``Full_layer``), and writes the checkpoint
layout (every key and shape), the per-step actions and a slice plus checksums of the per-step
logits. ``tests/test_gfnet_convert.py`` regenerates the same weights from that layout,
converts them and requires gfvideo to give the same actions and logits.
"""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
CONFIG = dict(model_name='resnet50', image_size=224, patch_size=96, T=5, num_classes=1000)
WEIGHTS_SEED, INPUT_SEED, BATCH, SLICE = 0, 1, 2, 16


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


def main(checkout: Path, fixture: Path) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(checkout))
    from tests.test_gfnet_convert import seeded_images, seeded_state
    torch.Tensor.cuda = lambda self, *args, **kwargs: self      # the official code calls .cuda() throughout
    nn.Module.cuda = lambda self, *args, **kwargs: self
    network = _load(checkout / 'network.py', 'gfnet_network')
    resnet = _load(checkout / 'models' / 'resnet.py', 'gfnet_resnet')
    utils = _load(checkout / 'utils.py', 'gfnet_utils')
    conf = _load(checkout / 'configs.py', 'gfnet_configs').model_configurations[CONFIG['model_name']]
    patch, size, steps = CONFIG['patch_size'], CONFIG['image_size'], CONFIG['T']

    # inference.py's model construction for 'resnet' models
    model, model_prime = resnet.resnet50(pretrained=False), resnet.resnet50(pretrained=False)
    state_dim = conf['feature_map_channels'] * math.ceil(patch / 32) ** 2
    policy = network.ActorCritic(conf['feature_map_channels'], state_dim, conf['policy_hidden_dim'], conf['policy_conv'])
    fc = network.Full_layer(conf['feature_num'], conf['fc_hidden_dim'], conf['fc_rnn'])
    parts = dict(model_prime_state_dict=model_prime, model_state_dict=model, fc=fc, policy=policy)
    layout = [[section, key, list(t.shape), str(t.dtype).replace('torch.', '')]
              for section, part in parts.items() for key, t in part.state_dict().items()]
    checkpoint = seeded_state(layout, WEIGHTS_SEED)
    for section, part in parts.items():
        part.load_state_dict(checkpoint[section], strict=True)
        part.eval()

    x = seeded_images(BATCH, size, INPUT_SEED)
    memory = network.Memory()
    steps_out = []
    with torch.no_grad():                                   # inference.py: generate_logits, ResNet branch
        output, state = model_prime(utils.get_prime(x, patch, conf['prime_interpolation']))
        output = fc(output, restart=True)
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
    result = dict(source='github.com/blackfeather-wang/GFNet-Pytorch', commit=commit or None, config=CONFIG,
                  weights_seed=WEIGHTS_SEED, input_seed=INPUT_SEED, batch=BATCH, torch=torch.__version__,
                  steps=steps_out, layout=layout)
    fixture.write_text(json.dumps(result, separators=(',', ':')) + '\n')
    print(f'{fixture}: {fixture.stat().st_size / 1024:.1f} KB, {len(layout)} tensors, {steps} steps')


if __name__ == '__main__':
    main(Path(sys.argv[1]), Path(sys.argv[2]))
