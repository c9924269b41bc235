"""The glance-and-focus recognizer: chunked steps, exits removing rows, gradients, costs."""
import pytest
import torch

from gfvideo.compute.costs import glance_focus_costs
from gfvideo.models import GlanceFocusRecognizer, StaticTSM


def tiny(**overrides) -> GlanceFocusRecognizer:
    cfg = dict(num_classes=5, num_frames=4, input_size=64,
               glance=dict(backbone='mobilenet_v2', size=32, width=0.25, last_channels=32),
               focus=dict(backbone='resnet18', patch=24, width=8),
               policy=dict(type='learned', hidden=16), frames_per_step=1, aggregator=dict(hidden=16))
    cfg.update(overrides)
    torch.manual_seed(0)
    return GlanceFocusRecognizer(**cfg)


def clips(b: int = 6) -> torch.Tensor:
    return torch.randn(b, 4, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def calibrated(model: GlanceFocusRecognizer, x: torch.Tensor) -> GlanceFocusRecognizer:
    """Set batch-norm statistics from ``x`` (one pass), so a random model's outputs vary with its input."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model.run(x)
    return model.eval()


def test_glance_keeps_4x4_cells():
    model = tiny()
    maps, pooled = model.glance(clips(2))
    assert maps.shape[-2:] == (4, 4) and pooled.shape[:2] == (2, 4)


def test_exits_equal_full_run_and_remove_rows():
    x = clips(12)
    model = calibrated(tiny(), x)
    with torch.no_grad():
        full = model.run(x)                          # every row through every exit
    assert len(full.logits) == model.num_exits == 5
    confidences = torch.stack([l.softmax(-1).amax(-1) for l in full.logits], 1)   # [B, E]
    # thresholds at each exit's 70th percentile: about 30% of the rows still present leave there
    thresholds = confidences.quantile(0.7, dim=0).tolist()
    expected_exit = (confidences >= torch.tensor(thresholds)).int().argmax(1)
    expected_exit[(confidences[:, :-1] < torch.tensor(thresholds[:-1])).all(1)] = model.num_steps
    rows_seen = []
    hook = model.focus.backbone.register_forward_hook(lambda m, i, o: rows_seen.append(i[0].shape[0]))
    with torch.no_grad():
        early = model.run(x, thresholds)
    hook.remove()
    assert torch.equal(early.exit_index, expected_exit)
    assert len(set(early.exit_index.tolist())) >= 3             # rows really leave at different exits
    for row in range(x.shape[0]):
        e = int(early.exit_index[row])
        assert torch.allclose(early.final_logits[row], full.logits[e][row], atol=1e-5)
    # one frame per step: the focus backbone saw exactly the rows still present at each step
    assert rows_seen == [len(s.rows) for s in early.focus_steps]
    assert rows_seen == [int((expected_exit > t).sum()) for t in range(len(rows_seen))]
    assert rows_seen[0] < x.shape[0] and rows_seen == sorted(rows_seen, reverse=True)


def test_predict_looks_follow_each_clips_steps():
    x = clips(12)
    model = calibrated(tiny(), x)
    with torch.no_grad():
        full = model.run(x)
    confidences = torch.stack([l.softmax(-1).amax(-1) for l in full.logits], 1)
    thresholds = confidences.quantile(0.7, dim=0).tolist()
    results = model.predict(x, dict(labels=torch.zeros(12, dtype=torch.long)), thresholds)
    assert len({r['exit'] for r in results}) >= 3
    for row, r in enumerate(results):
        assert len(r['looks']) == r['exit'] and len(r['confidences']) == r['exit'] + 1
        for step, look in enumerate(r['looks']):
            assert look['frames'] == full.actions[step].frames[row].tolist()   # fixed schedule: same frames


@pytest.mark.parametrize('frames_per_step', [1, 2, 4])
def test_chunked_focus_uses_online_shift(frames_per_step):
    """Steps of K frames equal one pass with the shift cut at chunk ends (next-frame side only)."""
    model = tiny(frames_per_step=frames_per_step, policy=dict(type='center')).eval()
    x = clips(2)
    out = model.run(x)
    features = torch.cat([s.features for s in out.focus_steps], 1)   # [B, 4, C]
    centers = torch.full((2, 4, 2), 0.5)
    ids = torch.arange(4)[None].expand(2, -1)
    if frames_per_step == 4:
        reference, _ = model.focus(x, ids, centers)
    else:
        state, chunks = None, []
        for s in range(0, 4, frames_per_step):
            chunk, state = model.focus(x, ids[:, s:s + frames_per_step], centers[:, s:s + frames_per_step], state)
            chunks.append(chunk)
        reference = torch.cat(chunks, 1)
    assert torch.allclose(features, reference, atol=1e-5)
    # and the cache matters: without it, frames after the first chunk differ
    if frames_per_step < 4:
        no_cache = torch.cat([model.focus(x, ids[:, s:s + frames_per_step], centers[:, s:s + frames_per_step])[0]
                              for s in range(0, 4, frames_per_step)], 1)
        assert not torch.allclose(features[:, frames_per_step:], no_cache[:, frames_per_step:], atol=1e-4)


def test_loss_reaches_policy_and_backbones():
    model = tiny().train()
    data = dict(inputs=clips(4).clamp(-2, 2), data_samples=dict(labels=torch.tensor([0, 1, 2, 3])))
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    for name in ('policy.score.weight', 'focus.backbone.conv1.weight', 'glance.backbone.features.0.0.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_random_patches_come_from_the_saved_generator():
    model = tiny(policy=dict(type='random'))
    state = model.state_dict()
    a = model.run(clips(2)).actions[0].centers
    model.load_state_dict(state)
    b = model.run(clips(2)).actions[0].centers
    assert torch.equal(a, b)


def test_predict_reports_costs_and_looks():
    model = tiny(exit_thresholds=[2.0, 2.0, 2.0, 2.0, 0.0]).eval()
    results = model(clips(3), dict(labels=torch.tensor([0, 1, 2]), clip_ids=['a', 'b', 'c']), mode='predict')
    costs = glance_focus_costs(model)
    expected = costs['glance'] + costs['aggregator_init'] + sum(sum(step.values()) for step in costs['steps'])
    for r in results:
        assert r['exit'] == 4 and len(r['looks']) == 4 and len(r['confidences']) == 5
        assert r['gflops'] == pytest.approx(expected)
        for look in r['looks']:
            x0, y0, x1, y1 = look['boxes'][0]
            assert 0 <= x0 and x1 <= 64 and x1 - x0 == 24
    step = costs['steps'][0]
    assert step['focus'] > 0 and costs['glance'] > 0 and step['aggregator_step'] > 0


def test_bad_sizes_fail_fast():
    with pytest.raises(ValueError, match='focus.patch=64'):
        tiny(focus=dict(backbone='resnet18', patch=64, width=8))
    with pytest.raises(ValueError, match='glance.size=80'):
        tiny(glance=dict(backbone='resnet18', size=80, width=8))
    with pytest.raises(ValueError, match='num_focus_frames=5'):
        tiny(num_focus_frames=5)


def test_static_tsm_predicts_with_cost():
    model = StaticTSM(num_classes=5, num_frames=4, input_size=64, backbone=dict(backbone='resnet18', width=8)).eval()
    results = model(clips(2), dict(labels=torch.tensor([0, 1])), mode='predict')
    assert results[0]['pred_scores'].shape == (5,) and results[0]['gflops'] > 0


def test_random_patch_branch_trains_the_policy_map():
    model = tiny(objective=dict(type='SupervisedExits', focus_branch='random', weights=dict(policy=0.5))).train()
    data = dict(inputs=clips(4).clamp(-2, 2), data_samples=dict(labels=torch.tensor([0, 1, 2, 3])))
    losses = model(**data, mode='loss')
    assert {'loss_exits', 'loss_focus', 'loss_policy'} <= set(losses)
    losses['loss_policy'].backward()                   # the map's regression alone reaches the scorer
    assert model.policy.score.weight.grad.abs().sum() > 0
    assert model.focus.backbone.conv1.weight.grad is None    # and nothing else (targets are detached)


def test_multi_view_predict_averages_views():
    """Twice sampling / three crops: each view runs as its own clip; probabilities average."""
    views = torch.cat([clips(2), clips(2).flip(-1), clips(2) * 0.5], dim=1)     # [2, 3 * 4, ...]
    static = StaticTSM(num_classes=5, num_frames=4, input_size=64,
                       backbone=dict(backbone='resnet18', width=8)).eval()
    gf = calibrated(tiny(), clips(6))
    for model in (static, gf):
        merged = model(views, dict(labels=torch.tensor([1, 2]), num_views=3), mode='predict')
        single = [model(views[:, 4 * v:4 * v + 4], None, mode='predict') for v in range(3)]
        for i in range(2):
            expect = torch.stack([single[v][i]['pred_scores'] for v in range(3)]).mean(0)
            assert torch.allclose(merged[i]['pred_scores'], expect, atol=1e-6)
            assert merged[i]['views'] == 3 and merged[i]['label'] == [1, 2][i]
            assert merged[i]['gflops'] == pytest.approx(sum(single[v][i]['gflops'] for v in range(3)))
    with pytest.raises(ValueError, match='num_views=1'):     # views are never guessed from the shape
        gf(views, dict(labels=torch.tensor([1, 2])), mode='predict')
    for model in (static, gf):
        with pytest.raises(ValueError, match='multi-view'):
            model(views, dict(labels=torch.tensor([1, 2])), mode='loss')
        with pytest.raises(ValueError, match='multi-view'):
            model.run(views)
