"""Early-exit thresholds for a compute budget (the MSDNet procedure, as GFNet uses it).

Given, on held-out clips, each exit's confidence (max softmax probability) and each
exit's cumulative cost, :func:`fit_thresholds` finds thresholds whose expected mean cost
per clip meets a target:

1. the fraction of clips leaving at exit ``k`` follows a geometric law,
   ``p_k ∝ r**k`` (``r = 1 - q`` in MSDNet's ``q(1-q)^(k-1)``; ``r > 1`` lets budgets
   above the uniform mix favour the late exits), normalised over the exits;
2. ``r`` is searched (bisection in log space) until ``sum_k p_k * cost_k`` meets the budget;
3. walking the exits in order, the remaining clips are sorted by their confidence at
   exit ``k`` and the threshold is set so that ``p_k`` of all clips leave there; the last
   exit takes everything left.

Thresholds must come from a split that is not reported on (a held-out part of the
training data); :func:`simulate` applies them to any split's confidences.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NEVER = 2.0  # a threshold no softmax confidence reaches: nobody leaves at that exit


class ThresholdsError(ValueError):
    """A thresholds sidecar that can't be read; the message names the file."""


@dataclass
class ExitPlan:
    """Thresholds for one budget and what they do on the clips they were fitted on."""
    budget: float
    thresholds: list[float]
    expected_gflops: float      # mean cost on the fitting clips
    fractions: list[float]      # fraction of the fitting clips leaving at each exit


def exit_fractions(r: float, num_exits: int) -> np.ndarray:
    """Geometric fractions ``p_k ∝ r**k`` over ``num_exits`` exits."""
    p = np.power(float(r), np.arange(num_exits, dtype=np.float64))
    return p / p.sum()


def _rate_for_budget(costs: np.ndarray, budget: float) -> float:
    lo, hi = -30.0, 30.0  # log r: from "almost all at exit 0" to "almost all at the last"
    for _ in range(100):
        mid = (lo + hi) / 2
        if exit_fractions(np.exp(mid), len(costs)) @ costs > budget:
            hi = mid
        else:
            lo = mid
    return float(np.exp(lo))


def assign_exits(confidences: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """Exit taken by each clip: the first exit whose threshold its confidence reaches."""
    reached = confidences >= np.asarray(thresholds)[None, :]
    reached[:, -1] = True
    return reached.argmax(axis=1)


def fit_thresholds(confidences: np.ndarray, exit_costs: list[float] | np.ndarray, budget: float) -> ExitPlan:
    """Thresholds meeting ``budget`` (mean GFLOPs per clip) on ``confidences`` ``[M, E]``."""
    confidences = np.asarray(confidences, dtype=np.float64)
    costs = np.asarray(exit_costs, dtype=np.float64)
    m, e = confidences.shape
    if len(costs) != e:
        raise ValueError(f'{len(costs)} exit costs for {e} exits')
    fractions = exit_fractions(_rate_for_budget(costs, budget), e)
    # Whole clips: cumulative counts rounded, so the counts sum to m.
    leave_by = np.rint(np.cumsum(fractions) * m).astype(int)
    counts = np.diff(np.concatenate([[0], leave_by]))
    thresholds = []
    remaining = np.arange(m)
    for k in range(e - 1):
        n = counts[k]
        if n <= 0 or remaining.size == 0:
            thresholds.append(NEVER)
            continue
        order = np.argsort(-confidences[remaining, k], kind='stable')
        threshold = float(confidences[remaining[order[min(n, remaining.size) - 1]], k])
        thresholds.append(threshold)
        remaining = remaining[confidences[remaining, k] < threshold]
    thresholds.append(0.0)
    exits = assign_exits(confidences, thresholds)
    return ExitPlan(budget=float(budget), thresholds=thresholds,
                    expected_gflops=float(costs[exits].mean()),
                    fractions=(np.bincount(exits, minlength=e) / m).tolist())


def simulate(confidences: np.ndarray, correct: np.ndarray, thresholds: list[float],
             exit_costs: list[float] | np.ndarray) -> dict:
    """Accuracy (%), mean GFLOPs and exits when ``thresholds`` are applied.

    ``confidences`` and ``correct`` are ``[M, E]``: every clip evaluated at every exit.
    """
    exits = assign_exits(np.asarray(confidences), thresholds)
    rows = np.arange(len(exits))
    costs = np.asarray(exit_costs)[exits]
    return dict(top1=float(np.asarray(correct)[rows, exits].mean() * 100), mean_gflops=float(costs.mean()),
                exits=exits)


def sidecar_path(checkpoint: str | os.PathLike) -> Path:
    """Where tools/report.py writes a checkpoint's fitted thresholds: ``CHECKPOINT.exits.json``."""
    return Path(checkpoint).with_suffix('.exits.json')


def load_thresholds(checkpoint: str | os.PathLike, budget: float) -> tuple[float, list[float]]:
    """The fitted budget nearest ``budget`` and its thresholds, from the checkpoint's sidecar.

    Shared by tools/test.py and tools/infer.py (``--budget``), so both pick thresholds the
    same way. Raises FileNotFoundError (saying how to make one) when there is no sidecar,
    ThresholdsError naming it when it isn't ``{budget: [thresholds]}`` JSON.
    """
    sidecar = sidecar_path(checkpoint)
    if not sidecar.exists():
        raise FileNotFoundError(f'no fitted thresholds at {sidecar}: run tools/report.py on this checkpoint first')
    try:
        fitted = {float(k): [float(t) for t in v] for k, v in json.loads(sidecar.read_text()).items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # unreadable, not JSON, not budget -> list
        raise ThresholdsError(f'{sidecar}: not a thresholds file ({type(exc).__name__}: {exc}); '
                              f'rerun tools/report.py on this checkpoint') from exc
    if not fitted:
        raise ThresholdsError(f'{sidecar} holds no fitted budgets')
    nearest = min(fitted, key=lambda b: abs(b - budget))
    return nearest, fitted[nearest]
