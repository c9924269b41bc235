"""GFNet-Pytorch checkpoints in gfvideo: the official model's predictions at every step.

``tests/fixtures/gfnet_r50.json`` (ResNet-50, GRU classifier, MLP state encoder) and
``gfnet_mbv3.json`` (MobileNetV3-Large in gen-efficientnet naming, per-length heads, conv state
encoder) were written by ``tools/dev/gfnet_reference.py``, which ran
the official code (github.com/blackfeather-wang/GFNet-Pytorch, the commit in the fixture) on
weights drawn by :func:`seeded_state` from the checkpoint layout it records. Here the same
weights are drawn again in the official layout, converted (``--from gfnet``), and gfvideo's
recognizer must choose the same patches and give the same logits at every step.
"""
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from gfvideo.compute.exit_sidecar import load_thresholds
from gfvideo.models import GlanceFocusRecognizer
from gfvideo.models.convert import ConversionError
from gfvideo.models.convert_gfnet import from_gfnet, gfnet_config, gfnet_thresholds
from gfvideo.models.crop import patch_boxes
from gfvideo.models.policy import Action, Observation

FIXTURES = [Path(__file__).parent / 'fixtures' / f'gfnet_{name}.json' for name in ('r50', 'mbv3')]
ROOT = Path(__file__).resolve().parents[1]


def seeded_state(layout: list, seed: int, gain: float = 1.0) -> dict[str, dict[str, torch.Tensor]]:
    """A GFNet checkpoint's state dicts ``{section: {key: tensor}}`` for ``layout`` (``[section, key,
    shape, dtype]`` rows, in order), every float drawn from one seeded generator. ``gain``
    scales the batch-norm scales (MobileNetV3's 50 batch norms, hard swishes and gates would
    otherwise shrink the signal until every image gives the same output)."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, dict[str, torch.Tensor]] = {}
    for section, key, shape, dtype in layout:
        if dtype.startswith('float'):
            values = torch.rand(shape, generator=g) * 2 - 1
            name = key.rsplit('.', 1)[-1]
            if name == 'running_var':
                values = values.abs() + 0.5
            elif name.startswith('weight') and len(shape) > 1:
                values = values * (3.0 / math.prod(shape[1:])) ** 0.5   # keep activations O(1)
            elif name == 'weight':                                      # batch-norm scales in gain x [0.5, 1]
                values = (values.abs() * 0.5 + 0.5) * gain
            else:                          # biases and running means small: the outputs follow the input
                values = values * 0.1
        else:
            values = torch.zeros(shape, dtype=getattr(torch, dtype))
        out.setdefault(section, {})[key] = values
    return out


def seeded_images(batch: int, size: int, seed: int) -> torch.Tensor:
    """``[batch, 3, size, size]`` images with content that differs between them and across each
    (a random 7 x 7 pattern enlarged, a blob at a random place, some noise)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.nn.functional.interpolate(torch.randn(batch, 3, 7, 7, generator=g), size=(size, size),
                                             mode='bilinear', align_corners=False)
    centre = torch.rand(batch, 2, generator=g) * size
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    blob = torch.exp(-((ys - centre[:, 0, None, None]) ** 2 + (xs - centre[:, 1, None, None]) ** 2) / (2 * 20 ** 2))
    return coarse + 3 * blob[:, None] + 0.2 * torch.randn(batch, 3, size, size, generator=g)


def gfnet_checkpoint(fixture: dict) -> dict:
    cfg = fixture['config']
    checkpoint = seeded_state(fixture['layout'], fixture['weights_seed'], cfg.get('gain', 1.0))
    checkpoint.update(model_name=cfg['model_name'], patch_size=cfg['patch_size'], flops=[1.0] * cfg['T'])
    return checkpoint


@pytest.fixture(scope='module', params=FIXTURES, ids=lambda p: p.stem)
def reference(request):
    fixture = json.loads(request.param.read_text())
    checkpoint = gfnet_checkpoint(fixture)
    model = GlanceFocusRecognizer(**{k: v for k, v in gfnet_config(checkpoint).items() if k != 'type'})
    missing, unexpected = model.load_state_dict(from_gfnet(checkpoint), strict=False)
    assert missing == ['_extra_state'] and unexpected == []
    cfg = fixture['config']
    x = seeded_images(fixture['batch'], cfg['image_size'], fixture['input_seed'])
    model._step_costs = [0.0] * model.num_exits   # skip the FLOP count (tracing two ResNet-50s): not checked here
    with torch.no_grad():
        episode = model.eval().run(x[:, None])
    return fixture, model, episode


@pytest.mark.parametrize('path', FIXTURES, ids=lambda p: p.stem)
def test_fixture_is_small_and_sourced(path):
    fixture = json.loads(path.read_text())
    assert path.stat().st_size < 200_000
    assert fixture['source'] == 'github.com/blackfeather-wang/GFNet-Pytorch' and len(fixture['commit']) == 40


def test_every_step_matches_the_official_code(reference):
    fixture, model, episode = reference
    steps = fixture['steps']
    assert len(episode.logits) == len(steps) == model.num_exits == fixture['config']['T']
    size, patch = fixture['config']['image_size'], fixture['config']['patch_size']
    for t, (logits, step) in enumerate(zip(episode.logits, steps)):
        ref = step['logits']
        assert torch.allclose(logits[:, :len(ref['slice'][0])], torch.tensor(ref['slice']), atol=1e-4, rtol=0), t
        assert torch.allclose(logits.sum(1), torch.tensor(ref['sum']), atol=1e-3, rtol=1e-6), t
        assert torch.allclose(logits.abs().sum(1), torch.tensor(ref['abs_sum']), atol=1e-3, rtol=1e-6), t
        assert logits.argmax(1).tolist() == ref['argmax'], t
        assert torch.allclose(logits.softmax(1).amax(1), torch.tensor(ref['max_prob']), atol=1e-6), t
        if t == 0:
            continue
        action = episode.actions[t - 1]
        # gfvideo's centres are (x, y); GFNet's actions (row, col), the same fraction of S - P
        assert torch.allclose(action.centers[:, 0].flip(-1), torch.tensor(step['action']), atol=1e-6), t
        corner = patch_boxes(action.centers[:, 0], (size, size), patch, 'floor')[:, :2].flip(-1)
        assert corner.tolist() == step['corner'], t
    # the test means something: the patches move between steps and images
    corners = {tuple(c) for s in steps[1:] for c in s['corner']}
    assert len(corners) > len(steps[1:])


def test_unknown_keys_fail_naming_them():
    checkpoint = dict(model_state_dict={'module.conv1.weight': torch.zeros(1)},
                      model_prime_state_dict={'conv1.weight': torch.zeros(1)},
                      fc={'rnn.weight_ih_l0': torch.zeros(1)}, policy=None)
    assert set(from_gfnet(checkpoint)) == {'focus.backbone.conv1.weight', 'glance.backbone.conv1.weight',
                                           'aggregator.gru.weight_ih'}
    for section, key in (('model_state_dict', 'module.conv_stem.weight'), ('fc', 'fc_9.weight'),
                         ('policy', 'actor.1.weight')):
        bad = {**checkpoint, section: {**(checkpoint[section] or {}), key: torch.zeros(1)}}
        with pytest.raises(ConversionError, match=key.replace('module.', '').replace('.', r'\.')):
            from_gfnet(bad)
    with pytest.raises(ConversionError, match='lr_scheduler'):
        from_gfnet({**checkpoint, 'lr_scheduler': {}})


def test_tool_writes_model_config_and_thresholds(tmp_path):
    sys.path.insert(0, str(ROOT / 'tools'))
    from convert_checkpoint import main
    tiny = torch.zeros(1)
    checkpoint = dict(model_name='resnet50', patch_size=96, flops=[0.6, 1.2, 1.8],
                      model_state_dict={'module.conv1.weight': tiny, 'module.fc.bias': tiny},
                      model_prime_state_dict={'module.conv1.weight': tiny, 'module.fc.bias': tiny},
                      fc={'rnn.weight_hh_l0': torch.zeros(3, 8), 'fc.bias': tiny},
                      policy={'gru.weight_hh_l0': torch.zeros(3, 4), 'state_encoder.0.weight': tiny},
                      dynamic_threshold=torch.tensor([[0.9, 0.8, -1e8], [0.5, 0.4, -1e8]]),
                      budgeted_batch_classification=[[0.7, 1.1], [70.0, 75.0]])
    assert gfnet_thresholds(checkpoint) == {0.7: [pytest.approx(0.9), pytest.approx(0.8), 0.0],
                                            1.1: [0.5, pytest.approx(0.4), 0.0]}
    torch.save(checkpoint, tmp_path / 'gfnet.pth.tar')
    assert main([str(tmp_path / 'gfnet.pth.tar'), str(tmp_path / 'out.pth'), '--from', 'gfnet']) == 0
    out = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert set(out['state_dict']) == {'focus.backbone.conv1.weight', 'glance.backbone.conv1.weight', 'focus_head.bias',
                                      'aggregator.gru.weight_hh', 'aggregator.fc.bias', 'policy.gru.weight_hh',
                                      'policy.state_encoder.0.weight'}
    model = out['meta']['model']
    assert model['num_steps'] == 2 and model['policy'] == dict(type='gfnet', map_size=3, encoder='mlp', hidden=4)
    assert model['aggregator'] == dict(type='gfnet_gru', hidden=8) and model['focus']['rounding'] == 'floor'
    budget, rule = load_thresholds(tmp_path / 'out.pth', 1.0)
    assert budget == 1.1 and rule.thresholds == [0.5, pytest.approx(0.4), 0.0] and rule.score == 'max_prob'


def tiny_gfnet() -> GlanceFocusRecognizer:
    torch.manual_seed(0)
    return GlanceFocusRecognizer(
        num_classes=10, num_frames=1, input_size=64, num_steps=3, frames_per_step=1, revisit=True,
        glance=dict(backbone='resnet18', width=8, size=32, feature_stage=4, min_cells=1,
                    resize=dict(mode='bicubic', align_corners=True, antialias=False)),
        focus=dict(backbone='resnet18', width=8, patch=32, rounding='floor'),
        policy=dict(type='gfnet', map_size=1, hidden=16), aggregator=dict(type='gfnet_gru', hidden=16))


def test_gfnet_policy_with_exits_and_ppo_rescoring():
    model, x = tiny_gfnet(), torch.randn(4, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    model._step_costs = [0.0] * model.num_exits
    with torch.no_grad():
        full = model.eval().run(x)
    # rows leaving early keep the others' recurrent policy state: same logits for the rest
    with torch.no_grad():
        probs = full.logits[1].softmax(-1).amax(-1)
        cut = float(probs.median())
        early = model.run(x, thresholds=[1.0, cut, 1.0, 0.0])
    stay = early.exit_index > 1
    assert 0 < int(stay.sum()) < 4
    assert torch.allclose(early.final_logits[stay], full.logits[-1][stay], atol=1e-5)
    # PPO: the stored actions re-scored in one batch give the log-probabilities of the episode
    episode = model.train().run(x)
    old = torch.cat([a.log_prob for a in episode.actions])
    obs = Observation.cat([s.observation for s in episode.focus_steps])
    new = model.policy(obs, 1, action=Action.cat(episode.actions))
    assert torch.allclose(new.log_prob, old, atol=1e-5) and new.value.shape == old.shape


@pytest.mark.parametrize('path, config', [(FIXTURES[0], 'gfnet_r50_p96_imagenet_stage3.py'),
                                          (FIXTURES[1], 'gfnet_mbv3_p96_imagenet_stage3.py')], ids=['r50', 'mbv3'])
def test_converted_file_loads_into_the_shipped_config(path, config):
    """A converted GFNet-Pytorch file is the model of configs/gfnet/'s stage 3 (built on the meta device)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from gfvideo.registry import MODELS
    cfg = Config.fromfile(ROOT / 'configs' / 'gfnet' / config)
    with DefaultScope.overwrite_default_scope('gfvideo'), torch.device('meta'):
        model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(from_gfnet(gfnet_checkpoint(json.loads(path.read_text()))),
                                                strict=False, assign=True)
    assert missing == ['_extra_state'] and unexpected == []
