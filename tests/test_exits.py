"""Budgeted early-exit thresholds on synthetic confidences: the geometric (MSDNet) procedure."""
import numpy as np
import pytest

from gfvideo.compute.exits import NEVER, assign_exits, exit_fractions, fit_thresholds, simulate

COSTS = [1.0, 2.0, 3.0, 4.0]


def synthetic(m: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.9, size=(m, 1))
    confidences = np.clip(base + np.linspace(0, 0.3, 4)[None] + rng.normal(0, 0.05, (m, 4)), 0, 1)
    correct = rng.uniform(size=(m, 4)) < confidences
    return confidences, correct


@pytest.mark.parametrize('budget', [1.2, 1.8, 2.5, 3.3, 3.9])
def test_fit_meets_budget_within_one_exit_cost(budget):
    confidences, _ = synthetic()
    plan = fit_thresholds(confidences, COSTS, budget, fit='geometric')
    assert abs(plan.expected_gflops - budget) <= 1.0          # one exit's cost
    assert abs(plan.expected_gflops - budget) <= 0.1          # and in fact much closer (ties at 1.0 aside)
    assert plan.thresholds[-1] == 0.0 and abs(sum(plan.fractions) - 1) < 1e-9


def test_budget_extremes():
    confidences, _ = synthetic()
    assert fit_thresholds(confidences, COSTS, 0.5, fit='geometric').fractions[0] > 0.99     # below exit 0's cost: all leave early
    everything = fit_thresholds(confidences, COSTS, 10.0, fit='geometric')                  # above the last: nobody leaves early
    assert everything.fractions[-1] > 0.99 and everything.thresholds[0] == NEVER


def test_fractions_are_geometric():
    p = exit_fractions(0.5, 4)
    assert np.allclose(p[1:] / p[:-1], 0.5) and np.isclose(p.sum(), 1)


def test_thresholds_transfer_from_held_out():
    held_out, _ = synthetic(seed=1)
    test_conf, test_correct = synthetic(seed=2)
    plan = fit_thresholds(held_out, COSTS, 2.5, fit='geometric')
    result = simulate(test_conf, test_correct, plan.thresholds, COSTS)
    assert abs(result['mean_gflops'] - 2.5) < 0.15      # same distribution: the budget holds on new clips
    assert (result['exits'] == assign_exits(test_conf, plan.thresholds)).all()
