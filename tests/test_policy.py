"""The frame-and-region policy: shapes, masking, PPO on a toy problem, gradients, determinism."""
import pytest
import torch

from gfvideo.models import GlanceFocusRecognizer
from gfvideo.models.policy import Observation, PPOPolicy, build_policy, gumbel_top_k, sequential_log_prob
from gfvideo.models.ppo import PPOConfig, discounted_returns, ppo_loss, step_rewards
from tests.test_recognizer import calibrated, clips, tiny

POLICY_CONFIGS = [dict(type='center'), dict(type='random', frames='random'), dict(type='learned', hidden=16),
            dict(type='learned', hidden=16, frames='learned'), dict(type='ppo', hidden=16),
            dict(type='ppo', hidden=16, frames='learned')]


def observe(maps: torch.Tensor, state: torch.Tensor, focused: torch.Tensor) -> Observation:
    """The policy's input without revisits: frames focused once are not available."""
    return Observation(maps, state, focused.long(), ~focused)


def _id(cfg):
    return f"{cfg['type']}-{cfg.get('frames', 'fixed')}"


@pytest.mark.parametrize('cfg', POLICY_CONFIGS, ids=_id)
@pytest.mark.parametrize('training', [True, False])
def test_actions_have_shapes_and_ranges_and_never_repeat_a_frame(cfg, training):
    b, n, k = 5, 6, 2
    loc = build_policy(cfg, glance_channels=8, state_channels=12, patch_fraction=0.4,
                        generator=torch.Generator().manual_seed(0)).train(training)
    maps, state = torch.randn(b, n, 8, 4, 4), torch.randn(b, 12)
    focused = torch.zeros(b, n, dtype=torch.bool)
    focused[:, 1] = True
    seen = [focused[i].nonzero().flatten().tolist() for i in range(b)]
    for _ in range((n - 1) // k):
        a = loc(observe(maps, state, focused), k)
        assert a.frames.shape == (b, k) and a.centers.shape == (b, k, 2)
        assert a.centers.min() >= 0 and a.centers.max() <= 1
        assert not focused.gather(1, a.frames).any()
        for i in range(b):
            seen[i] += a.frames[i].tolist()
        focused = focused.scatter(1, a.frames, True)
        if cfg['type'] == 'ppo' and training:
            assert a.log_prob.shape == a.value.shape == a.entropy.shape == (b,)
            assert torch.isfinite(a.log_prob).all() and torch.isfinite(a.entropy).all()
    assert all(len(set(s)) == len(s) for s in seen)


def test_gumbel_top_k_and_sequential_log_prob():
    logits = torch.tensor([[0.0, 1.0, float('-inf'), 2.0]]).repeat(2000, 1)
    draws = gumbel_top_k(logits, 2, torch.Generator().manual_seed(0))
    assert not (draws == 2).any() and (draws[:, 0] != draws[:, 1]).all()
    first = torch.bincount(draws[:, 0], minlength=4).float() / 2000
    assert torch.allclose(first, logits[0].softmax(-1), atol=0.03)
    lp, _ = sequential_log_prob(logits[:1], torch.tensor([[3, 1]]))
    p = logits[0].softmax(-1)
    assert lp.exp().item() == pytest.approx(float(p[3] * p[1] / (1 - p[3])), rel=1e-5)


def test_returns_and_rewards():
    probs = torch.tensor([[0.1, 0.4, 0.5]])
    r = step_rewards(probs)
    assert torch.allclose(r, torch.tensor([[0.3, 0.1]]))
    assert torch.allclose(discounted_returns(r, 0.7), torch.tensor([[0.3 + 0.07, 0.1]]))
    assert torch.allclose(step_rewards(probs, torch.tensor([[0.1, 0.2, 0.2]])), torch.tensor([[0.2, 0.1]]))


def test_ppo_moves_the_policy_to_the_region_holding_the_signal():
    """A 1-step environment: one quadrant of each sample's glance map carries the signal;
    reward 1 for a patch centred in it. PPO (GFNet's loss) learns to look there."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    policy = PPOPolicy(glance_channels=4, state_channels=4, patch_fraction=0.25, hidden=16, std=0.25,
                       generator=gen)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    cfg = PPOConfig(epochs=2)

    def episode(b):
        quadrant = torch.randint(0, 4, (b,), generator=gen)
        maps = torch.randn(b, 1, 4, 4, 4, generator=gen) * 0.1
        for i, q in enumerate(quadrant.tolist()):
            maps[i, 0, 0, 2 * (q // 2):2 * (q // 2) + 2, 2 * (q % 2):2 * (q % 2) + 2] += 3.0
        return maps, quadrant

    def in_quadrant(centers, quadrant):
        xy = policy.patch_fraction / 2 + centers[:, 0] * (1 - policy.patch_fraction)   # image coordinates
        return ((xy[:, 1] >= 0.5).long() * 2 + (xy[:, 0] >= 0.5).long() == quadrant).float()

    def hit_rate():
        maps, quadrant = episode(256)
        with torch.no_grad():
            a = policy.eval()(observe(maps, torch.zeros(256, 4), torch.zeros(256, 1, dtype=torch.bool)), 1)
        return in_quadrant(a.centers, quadrant).mean().item()

    before = hit_rate()
    for _ in range(60):
        maps, quadrant = episode(64)
        state, focused = torch.zeros(64, 4), torch.zeros(64, 1, dtype=torch.bool)
        with torch.no_grad():
            old = policy.train()(observe(maps, state, focused), 1)
            reward = in_quadrant(old.centers, quadrant)
            adv = reward - old.value
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        for _ in range(cfg.epochs):
            new = policy(observe(maps, state, focused), 1, action=old)
            loss, stats = ppo_loss(new.log_prob, old.log_prob, adv, new.value, reward, new.entropy, cfg)
            opt.zero_grad()
            loss.backward()
            opt.step()
    after = hit_rate()
    assert before < 0.5 and after > 0.85, (before, after)
    assert set(stats) == {'policy_loss', 'value_loss', 'entropy', 'clip_fraction', 'approx_kl'}


def test_end_to_end_gradients_reach_the_policy_frames_and_centres():
    model = tiny(policy=dict(type='learned', hidden=16, frames='learned'), num_focus_frames=2, frames_per_step=1)
    model.train()
    loss = sum(model.loss(clips(4), dict(labels=torch.tensor([0, 1, 2, 3]))).values())
    loss.backward()
    policy = model.policy_module
    for p in (policy.score.weight, policy.feature_in.weight, policy.frame_score.weight, policy.frame_in.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_crop_grad_scale_keeps_the_centres_and_scales_the_crops_gradient():
    """``crop_grad_scale=0``: same patches, but the exits' loss no longer moves the centres."""
    x, labels = clips(4), torch.tensor([0, 1, 2, 3])
    centres, grads = {}, {}
    for scale in (1.0, 0.0):
        model = tiny(policy=dict(type='learned', hidden=16, crop_grad_scale=scale)).train()
        out = model.run(x)
        centres[scale] = torch.cat([a.centers for a in out.actions])
        torch.nn.functional.cross_entropy(out.logits[-1], labels).backward()
        grads[scale] = model.policy.score.weight.grad
    assert torch.equal(centres[1.0], centres[0.0])
    assert grads[1.0].abs().sum() > 0
    assert grads[0.0] is None or grads[0.0].abs().sum() == 0


@pytest.mark.parametrize('cfg', POLICY_CONFIGS[2:], ids=_id)
def test_test_time_actions_are_deterministic(cfg):
    frozen = ['glance', 'focus', 'aggregator'] if cfg['type'] == 'ppo' else []
    model = calibrated(tiny(policy=cfg, num_focus_frames=2, frames_per_step=1, frozen=frozen), clips(6))
    first, second = (model.predict(clips(3)) for _ in range(2))
    assert [r['looks'] for r in first] == [r['looks'] for r in second]


def test_ppo_stage_trains_the_policy_alone_and_keeps_frozen_parts_still():
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    frozen = ['glance', 'focus', 'aggregator', 'focus_head']
    model = tiny(policy=dict(type='ppo', hidden=16, frames='learned'), frames_per_step=2, frozen=frozen)
    with pytest.raises(ValueError, match='model.frozen'):
        tiny(policy=dict(type='ppo', hidden=16))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    wrappers = OptimWrapperDict(policy=OptimWrapper(torch.optim.Adam(model.policy.parameters(), lr=1e-2)))
    model.train()
    assert not model.glance.training and model.policy.training
    data = dict(inputs=torch.randint(0, 256, (4, 4, 3, 64, 64), dtype=torch.uint8),
                data_samples=dict(labels=torch.tensor([0, 1, 2, 3])))
    logs = model.train_step(data, wrappers)
    for key in ('loss', 'reward', 'value_loss', 'entropy', 'clip_fraction', 'approx_kl'):
        assert torch.isfinite(logs[key])
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])} - {'_extra_state'}  # the RNG moved
    assert changed and all(k.startswith('policy.') for k in changed), changed


def test_checkpoint_names_are_plain_when_children_are_ddp_wrapped(tmp_path):
    """MMSeparateDistributedDataParallel wraps the policy: saved names stay plain, and plain names load back."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        model = tiny(policy=dict(type='ppo', hidden=8), frozen=['glance', 'focus', 'aggregator'])
        plain = model.state_dict()
        model.policy = DistributedDataParallel(model.policy)
        wrapped = model.state_dict()
        assert wrapped.keys() == plain.keys()
        result = model.load_state_dict(plain, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        assert model.policy_module is model.policy.module
    finally:
        dist.destroy_process_group()
