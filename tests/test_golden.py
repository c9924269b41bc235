"""Golden outputs recorded before the core redesign: fixed-seed tiny models must still give
the same logits at every exit, actions, early exits, losses, PPO statistics and GFLOPs.

``tests/fixtures/golden/golden.json`` holds, per model variant, the constructor arguments,
the state-dict keys and shapes of the code that recorded it (weights are regenerated from
each key's name, so no weight file is stored) and what that code computed.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
import torch
from mmengine.optim import OptimWrapper

from gfvideo.models import GlanceFocusRecognizer

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((ROOT / 'tests' / 'fixtures' / 'golden' / 'golden.json').read_text())
# (the shipped configs' GFLOPs per exit, GOLDEN['config_gflops'], are checked in test_configs.py)
ATOL = 1e-5
# Names changed by the redesign (the policy has one name everywhere).
RENAMED_LOSSES = {'loss_locator': 'loss_policy'}


def seeded_state(shapes: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """A state dict in the recording code's key names, each tensor drawn from a generator seeded by its key."""
    state = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(1)
            continue
        r = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(key.encode())))
        if key.endswith('running_var'):
            state[key] = 1 + 0.1 * r.abs()
        elif key.endswith(('running_mean', 'bias')):
            state[key] = 0.1 * r
        elif len(shape) == 1:
            state[key] = 1 + 0.1 * r
        else:
            fan_in = 1
            for d in shape[1:]:
                fan_in *= d
            state[key] = r * fan_in ** -0.5
    return state


def clips() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(6, 4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    return x, torch.tensor([0, 1, 2, 3, 4, 0])


def golden_model(name: str) -> GlanceFocusRecognizer:
    entry = GOLDEN['variants'][name]
    torch.manual_seed(0)
    model = GlanceFocusRecognizer(**entry['cfg'])
    state = seeded_state(entry['state_shapes'])
    state['_extra_state'] = model.state_dict()['_extra_state']   # the generator as built (seed 3)
    model.load_state_dict(state)
    return model.eval()


@pytest.mark.parametrize('name', sorted(GOLDEN['variants']))
def test_same_logits_actions_exits_and_costs(name):
    entry, model = GOLDEN['variants'][name], golden_model(name)
    x, labels = clips()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        full = model.run(x)
        early = model.run(x, entry['thresholds'])
    assert len(full.logits) == len(entry['logits'])
    for got, want in zip(full.logits, entry['logits']):
        torch.testing.assert_close(got, torch.tensor(want), atol=ATOL, rtol=0)
    for got, want in zip(full.actions, entry['actions']):
        assert got.frames.tolist() == want['frames']
        torch.testing.assert_close(got.centers, torch.tensor(want['centers']), atol=ATOL, rtol=0)
    assert early.exit_index.tolist() == entry['early_exit']
    torch.testing.assert_close(early.final_logits, torch.tensor(entry['early_logits']), atol=ATOL, rtol=0)
    assert model.exit_costs() == pytest.approx(entry['exit_costs'], rel=1e-9)
    if 'losses' in entry:
        model.load_state_dict(state)
        model.train()
        losses = model(x.clamp(-2, 2), dict(labels=labels), mode='loss')
        want_losses = {RENAMED_LOSSES.get(k, k): v for k, v in entry['losses'].items()}
        assert set(losses) == set(want_losses)
        for key, want in want_losses.items():
            assert float(losses[key].detach()) == pytest.approx(want, abs=ATOL), key


def test_same_ppo_update():
    model = golden_model('ppo_k2').train()
    x, labels = clips()
    wrapper = OptimWrapper(torch.optim.SGD(model.policy.parameters(), lr=0.0))
    stats = model.objective.update(model, x.clamp(-2, 2), labels, wrapper)
    assert set(stats) == set(GOLDEN['ppo_update'])
    for key, want in GOLDEN['ppo_update'].items():
        assert float(stats[key]) == pytest.approx(want, abs=ATOL), key


def test_a_checkpoint_written_before_the_rename_loads(tmp_path):
    """``locator.*`` keys (the policy's old name) pass the resume check and load into ``policy.*``."""
    from gfvideo.engine.resume import read_checkpoint
    entry = GOLDEN['variants']['learned_fixed_k1']
    state = seeded_state(entry['state_shapes'])
    assert any(k.startswith('locator.') for k in state)
    torch.manual_seed(0)
    model = GlanceFocusRecognizer(**entry['cfg'])
    state['_extra_state'] = model.state_dict()['_extra_state']
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=1), message_hub={}), path)
    checkpoint = read_checkpoint(path, model, resume=True)
    model.load_state_dict(checkpoint['state_dict'])
    torch.testing.assert_close(model.state_dict()['policy.score.weight'], state['locator.score.weight'])
