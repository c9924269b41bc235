"""Every member of the glance-and-focus family from config keys alone, revisits and their shift rule."""
from __future__ import annotations

import pytest
import torch

from gfvideo.models import GlanceFocusRecognizer
from gfvideo.models.tsm import TemporalShift

# The family's config keys (README, "The family"); tiny networks, 4-frame 64 px clips.
MEMBERS = {
    'AdaFocus (one step)': dict(frames_per_step=4),
    'AdaFocusV2 (chunks, random-patch branch)': dict(frames_per_step=2,
                                                     objective=dict(type='SupervisedExits', focus_branch='random',
                                                                    weights=dict(policy=1.0))),
    'Uni-AdaFocus (learned frames)': dict(policy=dict(type='learned', hidden=8, frames='learned'),
                                          num_focus_frames=2, frames_per_step=1),
    'GFNet-style video (revisits)': dict(revisit=True, num_steps=2, frames_per_step=4),
    'GFNet-style video (revisits, 2 of 4 frames)': dict(revisit=True, num_steps=3, frames_per_step=2,
                                                        policy=dict(type='learned', hidden=8, frames='learned')),
    'GFNet on images': dict(num_frames=1, revisit=True, num_steps=3, frames_per_step=1),
}


def tiny(**overrides) -> GlanceFocusRecognizer:
    cfg = dict(num_classes=5, num_frames=4, input_size=64, glance=dict(backbone='resnet18', size=32, width=8),
               focus=dict(backbone='resnet18', patch=24, width=8), policy=dict(type='learned', hidden=8),
               aggregator=dict(type='gru', hidden=16))
    cfg.update(overrides)
    torch.manual_seed(0)
    return GlanceFocusRecognizer(**cfg)


@pytest.mark.parametrize('keys', MEMBERS.values(), ids=MEMBERS.keys())
def test_member_trains_a_step_and_infers_with_exits(keys):
    model = tiny(**keys)
    n = model.num_frames
    x = torch.randn(4, n, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    losses = model(x, dict(labels=labels), mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    optimizer.step()
    model.eval()
    results = model.predict(x, dict(labels=labels), thresholds=[0.0] + [2.0] * (model.num_exits - 1))
    assert [r['exit'] for r in results] == [0] * 4                  # exit 0 takes every clip
    results = model.predict(x, dict(labels=labels))
    costs = model.exit_costs()
    for r in results:
        assert r['exit'] == model.num_steps and len(r['looks']) == model.num_steps
        assert r['gflops'] == costs[-1]
        looked = [f for look in r['looks'] for f in look['frames']]
        if model.schedule.revisit and model.policy.frames == 'fixed':
            assert looked == list(range(model.schedule.frames_per_step)) * model.num_steps   # the same frames again
        if not model.schedule.revisit:
            assert len(set(looked)) == len(looked)                   # each frame once


def test_revisit_conditions_on_what_the_previous_look_saw():
    """Deterministic learned policy: changing what step 1's patch showed changes step 2's patch on that frame."""
    model = tiny(revisit=True, num_steps=2, frames_per_step=4).eval()
    x = torch.randn(2, 4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = model.run(x)
        again = model.run(x)
    assert torch.equal(plain.steps[2].action.centers, again.steps[2].action.centers)   # deterministic

    model.step_costs()                           # counted (traced) before the hook goes on
    calls = []

    def blank_first_look(module, args):
        calls.append(1)
        if len(calls) == 1:                      # step 1's patches only: the glance is untouched
            return (torch.zeros_like(args[0]), *args[1:])
    hook = model.focus.backbone.register_forward_pre_hook(blank_first_look)
    with torch.no_grad():
        changed = model.run(x)
    hook.remove()
    torch.testing.assert_close(changed.steps[0].logits, plain.steps[0].logits)             # same glance
    torch.testing.assert_close(changed.steps[1].action.centers, plain.steps[1].action.centers)
    assert torch.equal(changed.steps[2].action.frames, plain.steps[2].action.frames)       # the same frames
    assert (changed.steps[2].action.centers - plain.steps[2].action.centers).abs().max() > 1e-4


def test_revisit_shift_links_the_looks_as_one_stream():
    """2 steps x 2 frames: inside a step the shift runs both ways; the first look of step 2
    takes its backward-shift channels from the last look of step 1 (README, "Focus steps")."""
    model = tiny(num_frames=2, revisit=True, num_steps=2, frames_per_step=2, policy=dict(type='center')).eval()
    shift = next(m for m in model.focus.backbone.modules() if isinstance(m, TemporalShift))
    model.step_costs()                                  # counted (traced) before the hook goes on
    seen = []
    hook = shift.register_forward_hook(lambda m, args, out: seen.append((args[0], out[0])))
    with torch.no_grad():
        model.run(torch.randn(1, 2, 3, 64, 64, generator=torch.Generator().manual_seed(2)))
    hook.remove()
    (a, a_out), (b, b_out) = seen                       # the layer's input and output at steps 1 and 2
    fold = a.shape[1] // 8
    want = torch.zeros_like(b)                          # hand-built: looks a0 a1 | b0 b1
    want[0, :fold] = b[1, :fold]                        # b0 <- next look (b1)
    want[0, fold:2 * fold] = a[1, fold:2 * fold]        # b0 <- previous look (a1, step 1's last)
    want[1, fold:2 * fold] = b[0, fold:2 * fold]        # b1 <- previous look (b0); no next look: zero
    want[:, 2 * fold:] = b[:, 2 * fold:]
    assert torch.equal(b_out, want)
    assert torch.equal(a_out[0, fold:2 * fold], torch.zeros_like(a_out[0, fold:2 * fold]))  # nothing before a0


def test_one_frame_models_have_no_shift():
    model = tiny(num_frames=1, revisit=True, num_steps=2, frames_per_step=1)
    assert not any(isinstance(m, TemporalShift) for m in model.modules())


def test_a_part_registered_in_a_user_module_trains_by_type(tiny_demo, tmp_path):
    """A policy in the user's own module, loaded by ``custom_imports`` and named by ``type=``."""
    import subprocess
    import sys

    from tests.conftest import ROOT, TINY_NETWORKS, tiny_options
    (tmp_path / 'my_parts.py').write_text(
        'from gfvideo.models.policy import Policy\n'
        'from gfvideo.registry import POLICIES\n\n\n'
        '@POLICIES.register_module()\n'
        'class CornerPolicy(Policy):\n'
        '    """Always the top-left corner."""\n\n'
        '    def locate(self, obs, frames):\n'
        '        return obs.glance_maps.new_zeros((*frames.shape, 2))\n')
    config = tmp_path / 'corner.py'
    config.write_text(f"_base_ = ['{ROOT}/configs/demo/glance_focus_e2e.py']\n"
                      "custom_imports = dict(imports=['my_parts'], allow_failed_imports=False)\n"
                      "model = dict(policy=dict(_delete_=True, type='CornerPolicy'),\n"
                      "             objective=dict(_delete_=True, type='SupervisedExits'))\n")
    work = tmp_path / 'work'
    env = dict(__import__('os').environ, PYTHONPATH=f'{tmp_path}:{ROOT}')
    proc = subprocess.run([sys.executable, 'tools/train.py', str(config), '--work-dir', str(work), '--cfg-options',
                           *tiny_options(tiny_demo, batch=12), *TINY_NETWORKS, 'train_cfg.val_interval=2'],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    checkpoint = torch.load((work / 'last_checkpoint').read_text().strip(), map_location='cpu', weights_only=True)
    assert checkpoint['meta']['epoch'] == 1


def test_revisits_train_by_ppo():
    """GFNet's stage 2 on a revisiting schedule: the policy alone moves, every step's look re-scored."""
    from mmengine.optim import OptimWrapper
    model = tiny(revisit=True, num_steps=2, frames_per_step=4, policy=dict(type='ppo', hidden=8),
                 frozen=['glance', 'focus', 'aggregator', 'focus_head'])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    wrapper = OptimWrapper(torch.optim.Adam(model.policy.parameters(), lr=1e-2))
    model.train()
    x = torch.randint(0, 256, (4, 4, 3, 64, 64), dtype=torch.uint8)
    logs = model.train_step(dict(inputs=x, data_samples=dict(labels=torch.tensor([0, 1, 2, 3]))), wrapper)
    assert all(torch.isfinite(logs[k]) for k in ('loss', 'reward', 'entropy'))
    changed = {k for k in before if not torch.equal(before[k], model.state_dict()[k])} - {'_extra_state'}
    assert changed and all(k.startswith('policy.') for k in changed)
