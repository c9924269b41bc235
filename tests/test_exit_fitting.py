"""Budget-optimal exit thresholds, exit scores and the exit rule (synthetic tables, no training)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from gfvideo.compute.exit_scores import NUM_FEATURES, ExitRule, exit_features, fit_exit_head, score_table
from gfvideo.compute.exits import (NEVER, ThresholdsError, assign_exits, choose_score, fit_curve, fit_thresholds,
                                   load_thresholds, sidecar_json, sidecar_path, simulate)
from gfvideo.report.clips import ClipTable
from gfvideo.report.writer import write_report

from .test_recognizer import calibrated, clips, tiny

COSTS = [1.0, 2.0, 3.0, 4.0]


def useless_glance(m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Exit 0 confident and always wrong; exits 1-3 right as often as they are confident."""
    rng = np.random.default_rng(seed)
    scores = np.empty((m, 4), dtype=np.float32)
    scores[:, 0] = rng.uniform(0.7, 1.0, m)
    scores[:, 1:] = np.clip(rng.uniform(0.2, 1.0, (m, 1)) + np.array([0.0, 0.1, 0.2]) + rng.normal(0, 0.1, (m, 3)), 0, 1)
    correct = rng.uniform(size=(m, 4)) < scores
    correct[:, 0] = False
    return scores, correct


def test_useless_exit_sends_nobody_and_beats_geometric():
    fit_s, fit_c = useless_glance(3000, seed=0)
    test_s, test_c = useless_glance(3000, seed=1)
    for budget in (2.0, 2.4, 3.0, 3.5):                          # at or above exit 1's cost
        plan = fit_thresholds(fit_s, COSTS, budget, fit_c)
        geometric = fit_thresholds(fit_s, COSTS, budget, fit_c, fit='geometric')
        assert plan.fractions[0] == 0 and plan.thresholds[0] == NEVER     # nobody leaves at the useless exit
        assert geometric.fractions[0] > 0.02                             # the geometric law sends clips out there
        fixed = max(fit_c[:, k].mean() * 100 for k in range(4) if COSTS[k] <= budget)
        assert plan.expected_top1 >= fixed and plan.expected_top1 >= geometric.expected_top1
        ours, theirs = (simulate(test_s, test_c, p.thresholds, COSTS) for p in (plan, geometric))
        assert ours['top1'] > theirs['top1'] + (5 if budget <= 3 else 0) and ours['mean_gflops'] <= budget + 0.05


def random_table(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, e = int(rng.integers(20, 400)), int(rng.integers(2, 7))
    costs = np.cumsum(rng.uniform(0.01, 1.0, e))
    scores = rng.uniform(0, 1, (m, e))
    if rng.uniform() < 0.5:
        scores = scores.round(1)                                  # many ties
    scores = scores.astype(np.float32 if rng.uniform() < 0.7 else np.float64)
    correct = rng.uniform(size=(m, e)) < np.clip(scores + rng.normal(0, 0.3, (m, e)), 0, 1)
    return scores, correct, costs


def test_fit_never_exceeds_the_budget_and_never_loses_to_a_fixed_exit():
    rng = np.random.default_rng(0)
    for _ in range(40):
        scores, correct, costs = random_table(rng)
        budgets = [*rng.uniform(costs[0], costs[-1] * 1.1, 3), *costs]      # exit costs themselves included
        plans = fit_curve(scores, costs, budgets, correct)
        geometric = fit_curve(scores, costs, budgets, correct, fit='geometric')
        for budget, plan, geo in zip(budgets, plans, geometric):
            exits = assign_exits(scores, plan.thresholds)
            assert plan.expected_gflops <= budget and costs[exits].mean() <= budget * (1 + 1e-12)
            assert plan.expected_top1 == pytest.approx(correct[np.arange(len(exits)), exits].mean() * 100)
            fixed = max(correct[:, k].mean() * 100 for k in range(len(costs)) if costs[k] <= budget)
            assert plan.expected_top1 >= fixed - 1e-9
            if geo.expected_gflops <= budget:
                assert plan.expected_top1 >= geo.expected_top1 - 1e-9
    below = fit_thresholds(scores, costs, costs[0] / 2, correct)                  # nothing is that cheap
    assert below.fractions[0] == 1


def test_optimal_fit_needs_correctness():
    scores, _ = useless_glance(50, seed=0)
    with pytest.raises(ValueError, match="fit='geometric'"):
        fit_thresholds(scores, COSTS, 2.0)


def table_from_logits(logits: torch.Tensor, labels: torch.Tensor, costs: list[float]) -> ClipTable:
    """A report table as ``collect`` makes it, from every exit's logits ``[M, E, C]``."""
    features = exit_features(logits).numpy()
    probs = logits.softmax(-1)
    return ClipTable(clip_ids=[str(i) for i in range(len(labels))], labels=labels.numpy(),
                     confidences=features[..., 0].copy(), predictions=probs.argmax(-1).numpy(),
                     top5=probs.topk(5, -1).indices.numpy(), exit_costs=costs, features=features)


def test_fitting_reads_only_the_held_out_split(tmp_path):
    g = torch.Generator().manual_seed(0)
    held_out = table_from_logits(3 * torch.randn(200, 4, 10, generator=g), torch.randint(0, 10, (200,), generator=g), COSTS)
    summaries = []
    for seed in (1, 2):                                           # two different reported splits
        g = torch.Generator().manual_seed(seed)
        table = table_from_logits(3 * torch.randn(150, 4, 10, generator=g), torch.randint(0, 10, (150,), generator=g),
                                  COSTS)
        summaries.append(write_report(tmp_path / str(seed), table, held_out, [1.5, 2.5, 3.5], 2.5, [], {}))
    a, b = summaries
    assert a['exit_score'] == b['exit_score']
    for name in ('optimal', 'geometric'):
        assert [r['thresholds'] for r in a['curves'][name]] == [r['thresholds'] for r in b['curves'][name]]
    assert a['curves'] != b['curves']                            # what they do on the reported split differs
    assert len(a['curves']['optimal']) == len(a['curves']['geometric']) == 3
    md = (tmp_path / '1' / 'summary.md').read_text()
    assert 'geometric top-1 %' in md and a['exit_score']['score'] in md
    geometric = write_report(tmp_path / 'g', table, held_out, [1.5, 2.5, 3.5], 2.5, [], {}, fit='geometric')
    assert geometric['budgets'] == geometric['curves']['geometric'] == b['curves']['geometric']
    assert geometric['operating_point']['fit'] == 'geometric' and geometric['operating_point']['score'] == 'max_prob'


def head_case(m: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two kinds of glance: two classes nearly tied (right half the time, but the higher max
    probability) or one class ahead of a flat rest (right 95%); exit 1 always right."""
    rng = np.random.default_rng(seed)
    c = 10
    labels = rng.integers(0, c, m)
    tied = rng.uniform(size=m) < 0.5
    first = np.where(tied, np.where(rng.uniform(size=m) < 0.5, labels, (labels + 1) % c),
                     np.where(rng.uniform(size=m) < 0.95, labels, (labels + 3) % c))
    glance = np.zeros((m, c))
    glance[np.arange(m), first] = np.where(tied, 3.0, 1.5 + rng.uniform(0, 0.5, m))
    runner_up = np.where(first == labels, (labels + 1) % c, labels)
    glance[np.arange(m), runner_up] = np.where(tied, 3.0 - rng.uniform(0, 0.2, m), 0.0)
    focus = np.zeros((m, c))
    focus[np.arange(m), labels] = 6.0
    return torch.tensor(np.stack([glance, focus], 1), dtype=torch.float32), torch.tensor(labels)


def test_learned_head_beats_max_prob_on_held_out_clips():
    costs = [1.0, 2.0]
    fit, check = (table_from_logits(*head_case(2000, seed), costs) for seed in (0, 1))
    head = fit_exit_head(fit.features, fit.correct)
    results = {}
    for score in ('max_prob', 'learned'):
        h = head if score == 'learned' else None
        plan = fit_thresholds(score_table(fit.features, score, h), costs, 1.5, fit.correct)
        results[score] = simulate(score_table(check.features, score, h), check.correct, plan.thresholds, costs)
    assert results['learned']['top1'] > results['max_prob']['top1'] + 10
    assert results['learned']['mean_gflops'] <= 1.55
    choice = choose_score(fit.features, fit.correct, costs, [1.25, 1.5, 1.75])
    assert choice.score != 'max_prob' and choice.check_top1['learned'] > choice.check_top1['max_prob']
    assert choice.check_clips == 500 and choice.fit_clips == 1500


def test_head_fit_is_deterministic_and_float32():
    fit = table_from_logits(*head_case(500, 0), [1.0, 2.0])
    a, b = fit_exit_head(fit.features, fit.correct), fit_exit_head(fit.features, fit.correct)
    assert a == b and len(a) == 2 and all(len(row) == NUM_FEATURES + 1 for row in a)
    assert all(float(np.float32(w)) == w for row in a for w in row)


def test_recognizer_applies_the_rule_the_table_simulates():
    """One implementation of each score: the model's real early exit takes exactly the exits the
    report's table predicts for the same rule (max-prob lists: tests/test_recognizer.py)."""
    x = clips(10)
    model = calibrated(tiny(), x)
    with torch.no_grad():
        full = model.run(x)
    features = exit_features(torch.stack(full.logits, 1)).numpy()
    learned = [np.float32(np.random.default_rng(e).normal(0, 3, NUM_FEATURES + 1)).tolist() for e in range(5)]
    for score, head in (('margin', None), ('learned', learned)):
        table_scores = score_table(features, score, head)
        thresholds = [*np.quantile(table_scores[:, :-1], 0.6, axis=0).astype(np.float32).tolist(), 0.0]
        rule = ExitRule(thresholds, score, head)
        with torch.no_grad():   # predict takes a config's dict too (model.exit_thresholds)
            exits = model.run(x, rule).exit_index if score != 'learned' else \
                torch.tensor([r['exit'] for r in model.predict(x, None, rule.to_dict())])
        expected = assign_exits(table_scores, thresholds)
        assert exits.tolist() == expected.tolist(), score
        assert len(set(expected.tolist())) >= 2


def test_exit_rule_coerce_and_checks():
    assert ExitRule.coerce([0.5, 0.0]) == ExitRule([0.5, 0.0], 'max_prob')
    assert ExitRule.coerce(None) is None
    rule = ExitRule([0.5, 0.0], 'learned', [[0.0] * NUM_FEATURES + [1.0]] * 2)
    assert ExitRule.coerce(rule.to_dict()) == rule and ExitRule.coerce(rule) is rule
    with pytest.raises(ValueError, match='head per exit'):
        ExitRule([0.5, 0.0], 'learned')
    with pytest.raises(ValueError, match='unknown exit score'):
        ExitRule([0.5, 0.0], 'entropy')
    with pytest.raises(ValueError, match='exit thresholds for a model with 5 exits'):
        tiny().check_thresholds(rule)
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    f = exit_features(logits)                                     # 3 classes: p4 = p5 = 0
    assert f.shape == (2, NUM_FEATURES) and torch.all(f[:, 3:5] == 0)
    assert torch.allclose(f[1, -1], torch.tensor(1.0)) and f[1, 5] == 0   # uniform: entropy 1, margin 0
    assert torch.equal(ExitRule([0.6, 0.0]).scores(logits, 0), logits.softmax(-1).amax(-1))


def test_sidecars_old_and_new(tmp_path):
    ckpt = tmp_path / 'model.pth'
    sidecar_path(ckpt).write_text(json.dumps({'0.5': [0.9, 0.0], '1.5': [2.0, 0.0]}))   # written before scores
    assert load_thresholds(ckpt, 0.6) == (0.5, ExitRule([0.9, 0.0]))
    head = [[0.25] * NUM_FEATURES + [-1.0], [0.0] * NUM_FEATURES + [0.0]]
    rules = {0.5: ExitRule([0.7, 0.0], 'learned', head), 1.5: ExitRule([NEVER, 0.0], 'learned', head)}
    sidecar_path(ckpt).write_text(sidecar_json(rules, 'optimal'))
    assert load_thresholds(ckpt, 2.0) == (1.5, rules[1.5]) and load_thresholds(ckpt, 0.0) == (0.5, rules[0.5])
    with pytest.raises(ValueError, match='one score'):
        sidecar_json({0.5: ExitRule([0.7, 0.0]), 1.5: rules[1.5]}, 'optimal')
    sidecar_path(ckpt).write_text(json.dumps(dict(thresholds={'0.5': [0.7, 0.0]}, score='learned')))  # no head
    with pytest.raises(ThresholdsError, match='not a thresholds file'):
        load_thresholds(ckpt, 0.5)


def test_fitting_six_exits_on_50000_clips_takes_seconds():
    rng = np.random.default_rng(0)
    m, e = 50_000, 6
    costs = np.cumsum(rng.uniform(0.5, 1.5, e))
    scores = np.clip(0.5 * rng.uniform(0, 1, (m, 1)) + np.linspace(0.2, 0.5, e) + rng.normal(0, 0.1, (m, e)),
                     0, 1).astype(np.float32)
    correct = rng.uniform(size=(m, e)) < scores
    budgets = np.linspace(costs[0], costs[-1], 7)[1:-1].tolist()
    start = time.perf_counter()
    plans = fit_curve(scores, costs, budgets, correct)
    seconds = time.perf_counter() - start
    print(f'\nfit_curve: 6 exits, 50,000 clips, {len(budgets)} budgets: {seconds:.2f} s')
    assert seconds < 30
    geometric = fit_curve(scores, costs, budgets, correct, fit='geometric')
    assert all(p.expected_top1 >= g.expected_top1 for p, g in zip(plans, geometric) if g.expected_gflops <= p.budget)
