"""Early-exit thresholds for a compute budget, fitted on held-out clips.

Given, on held-out clips, each exit's score (:mod:`gfvideo.compute.exit_scores`: max softmax
probability, margin or a learned head), whether each exit is right, and each exit's
cumulative cost, :func:`fit_curve` / :func:`fit_thresholds` choose per-exit thresholds for a
target mean GFLOPs per clip, in one of two ways:

``fit='optimal'`` (default): the thresholds that maximise the fit split's accuracy subject to
its mean cost being at most the budget, by search (:class:`_Search`):

- A threshold at exit ``k`` is a cut in the fit clips sorted by their exit-``k`` score
  (sorted once): the top ``n`` leave. Only cuts between distinct scores are candidates,
  ``n = 0`` is "nobody leaves" (threshold :data:`NEVER`), ``n = M`` "all still running leave"
  (0.0); others sit halfway between the scores either side (float32, the precision scores
  are computed in), so that a rounding difference does not move a clip across.
- One coordinate step: with the other exits' cuts fixed, the accuracy and cost of *every*
  cut at exit ``k`` comes from one cumulative sum over the sorted clips (a clip leaving at
  ``k`` instead of where it would go next changes the totals by its own difference): O(M E).
- A Lagrangian path: for penalties ``lam`` from 0 up to the point where everyone leaves at
  exit 0, coordinate ascent on ``accuracy - lam * cost`` (warm-started along the path, from
  both ends) gives solutions that trade exits against each other.
- Per budget, a few more Lagrangian solutions bisect the penalty between the path's points
  where the cost crosses the budget. The best feasible ones, the geometric plan (below) and
  every pure fixed-exit solution within the budget (all clips at exit ``k``) are the
  starting points of a constrained coordinate ascent (a local search, not a proof of
  optimality; on 3-exit tables it came within 2 clips of 400 of exhaustive search):
  each step takes the most accurate cut whose total cost stays within the budget; on a tie
  in accuracy the fewest clips leave (equally right on the fit split, the later exits are the
  safer bet on new clips). The most accurate polished plan wins (ties: the later exits).
  A plan's cost is checked exactly from its exit counts (:func:`mean_cost`): the fit
  split's mean cost never exceeds the budget, and because the fixed exits are starting
  points and no step loses accuracy, at a budget at or above exit ``k``'s cost the plan is
  at least as accurate as sending every clip to exit ``k``, or as the geometric plan when
  that is within budget (on the fit split). 6 exits x 50,000 clips: seconds.
- Below exit 0's cost nothing is feasible: every clip leaves at exit 0.

``fit='geometric'``: the MSDNet procedure, as GFNet uses it (for comparison with published
numbers): the fraction leaving at exit ``k`` follows ``p_k ∝ r**k``, ``r`` bisected until
``sum_k p_k * cost_k`` meets the budget, and walking the exits in order each threshold is
set so that ``p_k`` of all clips leave there. It needs no correctness, only scores.

Thresholds must come from a split that is not reported on; :func:`simulate` applies them to
any split's scores. :func:`choose_score` picks the score on a reserved part of the held-out
split. The thresholds sidecar is :mod:`gfvideo.compute.exit_sidecar`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exit_scores import SCORES, fit_exit_head, score_table
from .exit_sidecar import ThresholdsError, load_thresholds, sidecar_json, sidecar_path  # noqa: F401

NEVER = 2.0  # a threshold no score reaches (every score is in [0, 1]): nobody leaves at that exit
FITS = ('optimal', 'geometric')


@dataclass
class ExitPlan:
    """Thresholds for one budget and what they do on the clips they were fitted on."""
    budget: float
    thresholds: list[float]
    expected_gflops: float          # mean cost on the fitting clips
    fractions: list[float]          # fraction of the fitting clips leaving at each exit
    expected_top1: float | None = None  # top-1 (%) on the fitting clips (when correctness was given)


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


def assign_exits(scores: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """Exit taken by each clip: the first exit whose threshold its score reaches.

    Compared in the scores' precision (float32 scores: float32), as the recognizer does."""
    scores = np.asarray(scores)
    dtype = scores.dtype if scores.dtype.kind == 'f' else np.float64
    reached = scores >= np.asarray(thresholds, dtype=dtype)[None, :]
    reached[:, -1] = True
    return reached.argmax(axis=1)


def mean_cost(exits: np.ndarray, exit_costs: list[float] | np.ndarray) -> float:
    """Mean GFLOPs per clip from the exit counts (every clip at exit ``k``: exactly ``cost_k``)."""
    costs = np.asarray(exit_costs, dtype=np.float64)
    return float(np.bincount(exits, minlength=len(costs)) / len(exits) @ costs)


def _plan(scores: np.ndarray, correct: np.ndarray | None, costs: np.ndarray, budget: float,
          thresholds: list[float]) -> ExitPlan:
    exits = assign_exits(scores, thresholds)
    top1 = None if correct is None else float(correct[np.arange(len(exits)), exits].mean() * 100)
    return ExitPlan(budget=float(budget), thresholds=[float(t) for t in thresholds],
                    expected_gflops=mean_cost(exits, costs),
                    fractions=(np.bincount(exits, minlength=len(costs)) / len(exits)).tolist(), expected_top1=top1)


def _geometric(scores: np.ndarray, costs: np.ndarray, budget: float) -> list[float]:
    m, e = scores.shape
    fractions = exit_fractions(_rate_for_budget(costs, budget), e)
    # Whole clips: cumulative counts rounded, so the counts sum to m.
    counts = np.diff(np.concatenate([[0], np.rint(np.cumsum(fractions) * m).astype(int)]))
    thresholds = []
    remaining = np.arange(m)
    for k in range(e - 1):
        n = counts[k]
        if n <= 0 or remaining.size == 0:
            thresholds.append(NEVER)
            continue
        order = np.argsort(-scores[remaining, k], kind='stable')
        threshold = float(scores[remaining[order[min(n, remaining.size) - 1]], k])
        thresholds.append(threshold)
        remaining = remaining[scores[remaining, k] < threshold]
    return thresholds + [0.0]


class _Search:
    """The fit split sorted once per exit; a plan is a cut per exit (see the module doc)."""

    def __init__(self, scores: np.ndarray, correct: np.ndarray, costs: np.ndarray) -> None:
        self.m, self.e = scores.shape
        self.scores, self.costs = scores, costs
        self.rows = np.arange(self.m)
        self.correct = np.ascontiguousarray(correct.T, dtype=np.int64)         # [E, M]
        s = np.ascontiguousarray(scores[:, :-1].T)                            # [E-1, M]
        self.order = np.argsort(-s, axis=1, kind='stable')
        self.ranked = np.take_along_axis(s, self.order, 1)
        self.rank = np.empty_like(self.order)
        np.put_along_axis(self.rank, self.order, self.rows[None], 1)
        self.cuts = [np.flatnonzero(np.r_[True, r[:-1] > r[1:], True]) for r in self.ranked]
        # Per exit k, every exit's ranks and correctness with the clips in exit k's order.
        self.rank_by = [np.ascontiguousarray(self.rank[:, o]) for o in self.order]
        self.correct_by = [np.ascontiguousarray(self.correct[:, o].astype(np.int8)) for o in self.order]

    def exits(self, cut: np.ndarray, skip: int = -1) -> np.ndarray:
        """Each clip's exit under ``cut`` (``skip``: as if nobody left at that exit)."""
        exits = np.full(self.m, self.e - 1)
        for j in range(self.e - 2, -1, -1):
            if j != skip:
                exits = np.where(self.rank[j] < cut[j], j, exits)
        return exits

    def correct_count(self, exits: np.ndarray) -> int:
        return int(self.correct.ravel()[exits * self.m + self.rows].sum())

    def column(self, cut: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every candidate cut at exit ``k`` with the others fixed: (cuts, correct count, total cost).

        In exit ``k``'s order: each clip's outcome if nobody left at ``k``, then cumulative sums of
        the change if it left there instead (zero for clips that left earlier)."""
        ranks, correct = self.rank_by[k], self.correct_by[k]
        ok, cost = correct[-1], np.full(self.m, self.costs[-1])
        earlier = np.zeros(self.m, dtype=bool)
        for j in range(self.e - 2, -1, -1):
            if j != k:
                leave = ranks[j] < cut[j]
                ok, cost = np.where(leave, correct[j], ok), np.where(leave, self.costs[j], cost)
                if j < k:
                    earlier |= leave
        d_ok = np.where(earlier, 0, correct[k] - ok)
        d_cost = np.where(earlier, 0.0, self.costs[k] - cost)
        cuts = self.cuts[k]
        oks = int(ok.sum(dtype=np.int64)) + np.concatenate([[0], np.cumsum(d_ok, dtype=np.int64)])[cuts]
        costs = cost.sum() + np.concatenate([[0.0], np.cumsum(d_cost)])[cuts]
        return cuts, oks, costs

    def lagrangian(self, lam: float, cut: np.ndarray, sweeps: int = 50) -> np.ndarray:
        """Coordinate ascent on ``correct - lam * cost`` from ``cut`` (an exit is revisited once another moved)."""
        cut, seen, moves = cut.copy(), [-1] * (self.e - 1), 0
        for _ in range(sweeps):
            for k in range(self.e - 1):
                if seen[k] == moves:
                    continue
                cuts, ok, cost = self.column(cut, k)
                value = ok - lam * cost
                best = np.flatnonzero(value == value.max())
                best = best[cost[best] == cost[best].min()][0]      # ties: cheaper, then fewer leaving
                if cuts[best] != cut[k]:
                    cut[k], moves = cuts[best], moves + 1
                seen[k] = moves
            if all(s == moves for s in seen):
                break
        return cut

    def polish(self, cut: np.ndarray, bound: float, sweeps: int = 50) -> np.ndarray:
        """Constrained coordinate ascent: the most accurate cut within ``bound`` total cost (ties: fewest leave)."""
        cut = cut.copy()
        for _ in range(sweeps):
            moved = False
            for k in range(self.e - 1):
                cuts, ok, cost = self.column(cut, k)
                current = int(np.searchsorted(cuts, cut[k]))
                feasible = cost <= bound
                feasible[current] = True                              # where it is (checked exactly later)
                ok = np.where(feasible, ok, -1)
                best = int(np.flatnonzero(ok == ok.max())[0])
                if best != current:
                    cut[k], moved = cuts[best], True
            if not moved:
                break
        return cut

    def cut_of(self, thresholds: list[float]) -> np.ndarray:
        """The cuts that ``thresholds`` make (in the scores' precision, as :func:`assign_exits` compares)."""
        t = np.asarray(thresholds[:-1], dtype=self.ranked.dtype)
        return (self.ranked >= t[:, None]).sum(1)

    def thresholds(self, cut: np.ndarray) -> list[float]:
        out = []
        for k, n in enumerate(cut):
            if n == 0:
                out.append(NEVER)
            elif n == self.m:
                out.append(0.0)
            else:
                above, below = self.ranked[k, n - 1], self.ranked[k, n]
                mid = np.asarray((float(above) + float(below)) / 2, dtype=self.ranked.dtype)
                out.append(float(mid if mid > below else above))
        return out + [0.0]

    def lam_max(self) -> float:
        """A penalty at which leaving at exit 0 beats everything for every clip."""
        steps = np.diff(self.costs)
        return 1.5 / steps[steps > 0].min() if (steps > 0).any() else 0.0

    def path(self, points: int = 16) -> list[tuple[float, np.ndarray]]:
        """``(lam, solution)`` from "all to the last exit" (lam = 0) up to "all at exit 0", both ways."""
        lams = np.concatenate([[0.0], self.lam_max() * np.geomspace(1e-4, 1.0, points)])
        found, cut = [], self.fixed(self.e - 1)
        for lam in lams:
            cut = self.lagrangian(lam, cut)
            found.append((lam, cut))
        cut = self.fixed(0)
        for lam in lams[::-1]:
            cut = self.lagrangian(lam, cut)
            found.append((lam, cut))
        return found

    def bisect(self, path: list[tuple[float, np.ndarray]], bound: float, steps: int = 8) -> list[np.ndarray]:
        """Lagrangian solutions between the path's penalties where its cost crosses ``bound`` (log-space)."""
        feasible = [(lam, c) for lam, c in path if self.cost(c) <= bound]
        if not feasible or min(lam for lam, _ in feasible) == 0:
            return []
        hi, cut = min(feasible, key=lambda item: item[0])
        lo = max([lam for lam, c in path if lam < hi and self.cost(c) > bound], default=0.0)
        lo, hi = np.log(max(lo, hi * 1e-3)), np.log(hi)
        found = []
        for _ in range(steps):
            mid = (lo + hi) / 2
            trial = self.lagrangian(float(np.exp(mid)), cut)
            found.append(trial)
            if self.cost(trial) <= bound:
                hi, cut = mid, trial
            else:
                lo = mid
        return found

    def cost(self, cut: np.ndarray) -> float:
        return float(self.costs[self.exits(cut)].sum())

    def fixed(self, k: int) -> np.ndarray:
        """Every clip at exit ``k``: nobody leaves before it, everyone still running leaves there."""
        return np.array([0] * k + [self.m] * (self.e - 1 - k), dtype=np.int64)


def _optimal(search: _Search, path: list[tuple[float, np.ndarray]], costs: np.ndarray, budget: float,
             extra: list[list[float]] = (), starts: int = 3) -> list[float]:
    """The most accurate thresholds within ``budget`` on the fit split (see the module doc)."""
    if budget < costs[0] or search.e == 1:
        return [0.0] * search.e                                      # nothing cheaper: all at exit 0
    bound = budget * search.m * (1 - 1e-12)
    tried = [c for _, c in path] + search.bisect(path, bound) + [search.cut_of(t) for t in extra]
    tried = list({c.tobytes(): c for c in tried}.values())
    feasible = sorted((c for c in tried if search.cost(c) <= bound),
                      key=lambda c: -search.correct_count(search.exits(c)))
    candidates = feasible[:starts] + [search.fixed(k) for k in range(search.e) if costs[k] <= budget]
    best, best_key = search.thresholds(search.fixed(0)), None          # exit 0 alone is always within budget
    for cut in candidates:
        thresholds = search.thresholds(search.polish(cut, bound))
        exits = assign_exits(search.scores, thresholds)               # the thresholds themselves, checked
        key = (search.correct_count(exits), mean_cost(exits, costs))
        if key[1] <= budget and (best_key is None or key > best_key):
            best, best_key = thresholds, key
    return best


def fit_curve(scores: np.ndarray, exit_costs: list[float] | np.ndarray, budgets: list[float],
              correct: np.ndarray | None = None, fit: str = 'optimal') -> list[ExitPlan]:
    """One :class:`ExitPlan` per budget from the fit split's ``scores`` ``[M, E]`` (``correct``
    ``[M, E]``: whether each exit is right, needed by ``fit='optimal'``); see the module doc.

    The optimal search sorts the scores and walks the Lagrangian path once for all budgets."""
    scores = np.asarray(scores)
    costs = np.asarray(exit_costs, dtype=np.float64)
    m, e = scores.shape
    if len(costs) != e:
        raise ValueError(f'{len(costs)} exit costs for {e} exits')
    if fit not in FITS:
        raise ValueError(f'fit={fit!r}: choose from {list(FITS)}')
    if correct is not None:
        correct = np.asarray(correct, dtype=bool)
    if fit == 'geometric':
        return [_plan(scores, correct, costs, b, _geometric(scores, costs, b)) for b in budgets]
    if correct is None:
        raise ValueError("fit='optimal' needs each clip's correctness at each exit (correct=[M, E]); "
                         "fit='geometric' needs the scores alone")
    if m == 0 or scores.min() < 0 or scores.max() >= NEVER:
        raise ValueError(f'scores must lie in [0, {NEVER}) and there must be clips to fit on')
    search = _Search(scores, correct, costs)
    path = search.path()
    # The geometric plan is one more starting point: on the fit split the fit is never worse than it.
    return [_plan(scores, correct, costs, b, _optimal(search, path, costs, b, [_geometric(scores, costs, b)]))
            for b in budgets]


def fit_thresholds(scores: np.ndarray, exit_costs: list[float] | np.ndarray, budget: float,
                   correct: np.ndarray | None = None, fit: str = 'optimal') -> ExitPlan:
    """Thresholds for one ``budget`` (mean GFLOPs per clip): :func:`fit_curve` of one budget."""
    return fit_curve(scores, exit_costs, [budget], correct, fit)[0]


def simulate(scores: np.ndarray, correct: np.ndarray, thresholds: list[float],
             exit_costs: list[float] | np.ndarray) -> dict:
    """Accuracy (%), mean GFLOPs and exits when ``thresholds`` are applied.

    ``scores`` and ``correct`` are ``[M, E]``: every clip evaluated at every exit.
    """
    exits = assign_exits(scores, thresholds)
    rows = np.arange(len(exits))
    costs = np.asarray(exit_costs)[exits]
    return dict(top1=float(np.asarray(correct)[rows, exits].mean() * 100), mean_gflops=float(costs.mean()),
                exits=exits)


@dataclass
class ScoreChoice:
    """The exit score chosen on the held-out check, and what each candidate scored there."""
    score: str
    head: list[list[float]] | None       # the learned head (trained on the fit part), if chosen
    check_top1: dict[str, float]         # candidate -> mean top-1 (%) over the budgets, on the check part
    fit_clips: int
    check_clips: int


def split_held_out(m: int, check_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of ``m`` held-out clips: (fit part, check part), sorted indices."""
    perm = np.random.default_rng(seed).permutation(m)
    n_check = int(round(m * check_fraction)) if m >= 4 else 0
    return np.sort(perm[n_check:]), np.sort(perm[:n_check])


def choose_score(features: np.ndarray, correct: np.ndarray, exit_costs: list[float], budgets: list[float],
                 candidates: tuple[str, ...] = SCORES, check_fraction: float = 0.25, seed: int = 0) -> ScoreChoice:
    """Pick the exit score that works on held-out clips the fitting never saw.

    The held-out table (``features`` ``[M, E, F]``, ``correct`` ``[M, E]``) is split
    (:func:`split_held_out`); the learned head is trained on the fit part, every candidate's
    optimal thresholds are fitted there per budget and scored on the check part; the best
    mean top-1 over the budgets wins (ties: the earlier candidate, simplest first). With fewer
    than 4 clips there is no check part and the first candidate is taken.
    """
    unknown = set(candidates) - set(SCORES)
    if unknown or not candidates:
        raise ValueError(f'exit scores {sorted(unknown) or "none"}: choose from {list(SCORES)}')
    correct = np.asarray(correct, dtype=bool)
    fit_idx, check_idx = split_held_out(len(correct), check_fraction, seed)
    head = fit_exit_head(features[fit_idx], correct[fit_idx]) if 'learned' in candidates else None
    check = {}
    for score in candidates if len(check_idx) else ():
        table = score_table(features, score, head if score == 'learned' else None)
        plans = fit_curve(table[fit_idx], exit_costs, budgets, correct[fit_idx])
        check[score] = float(np.mean([simulate(table[check_idx], correct[check_idx], p.thresholds,
                                                exit_costs)['top1'] for p in plans]))
    chosen = max(check, key=lambda s: (check[s], -candidates.index(s))) if check else candidates[0]
    return ScoreChoice(score=chosen, head=head if chosen == 'learned' else None, check_top1=check,
                       fit_clips=len(fit_idx), check_clips=len(check_idx))
