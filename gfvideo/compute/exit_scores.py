"""When a clip leaves: the scores early exit thresholds, and the rule that applies them.

An exit's *score* says how likely its prediction is to be right; a clip leaves at the first
exit whose score reaches that exit's threshold. Every score is a function of the exit's
softmax, summarised once per step by :func:`exit_features` (torch)::

    p1 .. p5   the five largest probabilities, sorted (zeros when there are fewer classes)
    margin     p1 - p2
    entropy    the softmax's entropy over log(classes), in [0, 1]

and the scores (:data:`SCORES`), all in ``[0, 1]``:

- ``max_prob``: ``p1``, the MSDNet/GFNet confidence (a plain list of thresholds means this);
- ``margin``: ``p1 - p2``;
- ``learned``: a per-exit logistic regression on the features, trained on held-out
  outcomes (was this exit right?): :func:`fit_exit_head`.

:class:`ExitRule` (thresholds, score, head) is the one object for "when a clip leaves":
the recognizer's ``run``/``predict`` apply it to a step's logits (:meth:`ExitRule.leaves`),
the fitting code scores the report's feature table with the same :func:`score_features`
(on CPU, in float32, elementwise, so a row's score doesn't depend on its batch), and the
thresholds sidecar stores it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

SCORES = ('max_prob', 'margin', 'learned')
TOPK = 5
FEATURES = tuple(f'p{k}' for k in range(1, TOPK + 1)) + ('margin', 'entropy')
NUM_FEATURES = len(FEATURES)
MARGIN, ENTROPY = FEATURES.index('margin'), FEATURES.index('entropy')


def exit_features(logits: torch.Tensor) -> torch.Tensor:
    """Logits ``[..., classes]`` -> float32 features ``[..., NUM_FEATURES]`` of their softmax (see module doc)."""
    probs = logits.detach().float().softmax(-1)
    classes = probs.shape[-1]
    top = probs.topk(min(TOPK, classes), -1).values
    if classes < TOPK:
        top = F.pad(top, (0, TOPK - classes))
    entropy = -torch.special.xlogy(probs, probs).sum(-1)
    entropy = entropy / math.log(classes) if classes > 1 else torch.zeros_like(entropy)
    return torch.cat([top, (top[..., 0] - top[..., 1])[..., None], entropy[..., None]], -1)


def score_features(features: torch.Tensor, score: str, head: Sequence[Sequence[float]] | None,
                   exit: int) -> torch.Tensor:
    """Exit ``exit``'s score ``[...]`` from its features ``[..., NUM_FEATURES]``: the one implementation
    of every score, used by the recognizer (torch, on the model's device) and the fitting code."""
    if score == 'max_prob':
        return features[..., 0]
    if score == 'margin':
        return features[..., MARGIN]
    if score != 'learned':
        raise ValueError(f'unknown exit score {score!r}; choose from {list(SCORES)}')
    weights = head[exit]
    # Elementwise, feature by feature: the same float32 result for a row whatever the batch.
    z = torch.full(features.shape[:-1], float(weights[-1]), dtype=features.dtype, device=features.device)
    for j in range(NUM_FEATURES):
        z = z + features[..., j] * float(weights[j])
    return torch.sigmoid(z)


def score_table(features: np.ndarray, score: str, head: Sequence[Sequence[float]] | None = None) -> np.ndarray:
    """Scores ``[M, E]`` of a feature table ``[M, E, NUM_FEATURES]`` (the report's), via :func:`score_features`."""
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    return torch.stack([score_features(x[:, e], score, head, e) for e in range(x.shape[1])], 1).numpy()


@dataclass
class ExitRule:
    """Per-exit thresholds on a score: a clip leaves at the first exit whose score reaches its threshold.

    ``head`` (``score='learned'`` only): per exit, ``NUM_FEATURES`` weights then a bias.
    The last threshold is normally 0.0 (every clip still running leaves at the last exit).
    """
    thresholds: list[float]
    score: str = 'max_prob'
    head: list[list[float]] | None = None

    def __post_init__(self) -> None:
        self.thresholds = [float(t) for t in self.thresholds]
        if self.score not in SCORES:
            raise ValueError(f'unknown exit score {self.score!r}; choose from {list(SCORES)}')
        if self.score == 'learned':
            if self.head is None or len(self.head) != len(self.thresholds):
                raise ValueError(f'a learned exit score needs a head per exit ({len(self.thresholds)})')
            self.head = [[float(w) for w in row] for row in self.head]
            if any(len(row) != NUM_FEATURES + 1 for row in self.head):
                raise ValueError(f'each exit head holds {NUM_FEATURES} weights and a bias')
        elif self.head is not None:
            raise ValueError(f'exit score {self.score!r} takes no head')

    @classmethod
    def coerce(cls, rule: 'ExitRule | Mapping | Sequence[float] | None') -> 'ExitRule | None':
        """An :class:`ExitRule` from itself, a dict (``thresholds``, ``score``, ``head``: a config's
        ``model.exit_thresholds`` or a sidecar entry) or a plain list of max-prob thresholds."""
        if rule is None or isinstance(rule, ExitRule):
            return rule
        if isinstance(rule, Mapping):
            unknown = set(rule) - {'thresholds', 'score', 'head'}
            if unknown or 'thresholds' not in rule:
                raise ValueError(f'an exit rule is dict(thresholds=[...], score=..., head=...); got keys {sorted(rule)}')
            return cls(list(rule['thresholds']), rule.get('score', 'max_prob'), rule.get('head'))
        return cls(list(rule))

    def to_dict(self) -> dict:
        """JSON- and config-ready: ``dict(thresholds, score[, head])``."""
        out = dict(thresholds=list(self.thresholds), score=self.score)
        if self.head is not None:
            out['head'] = [list(row) for row in self.head]
        return out

    def scores(self, logits: torch.Tensor, exit: int) -> torch.Tensor:
        """Exit ``exit``'s score of each row of its logits ``[R, classes]``."""
        return score_features(exit_features(logits), self.score, self.head, exit)

    def leaves(self, logits: torch.Tensor, exit: int) -> torch.Tensor:
        """Rows ``[R]`` (bool) whose score at exit ``exit`` reaches its threshold."""
        return self.scores(logits, exit) >= self.thresholds[exit]


def fit_exit_head(features: np.ndarray, correct: np.ndarray, l2: float = 1e-3,
                  iterations: int = 50) -> list[list[float]]:
    """Per-exit logistic regression predicting ``correct`` ``[M, E]`` from ``features`` ``[M, E, F]``.

    Newton's method (deterministic, plain numpy) on standardised features with an L2
    penalty ``l2`` on every parameter (so an exit that is always right, or always wrong,
    still gets finite weights); the result is folded back onto the raw features and
    rounded to float32, the precision :func:`score_features` computes in.
    """
    features = np.asarray(features, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    m, e, f = features.shape
    head = []
    for k in range(e):
        x = features[:, k]
        mean, std = x.mean(0), x.std(0)
        std[std < 1e-8] = 1.0
        design = np.hstack([(x - mean) / std, np.ones((m, 1))])
        w = np.zeros(f + 1)
        for _ in range(iterations):
            p = 1 / (1 + np.exp(-np.clip(design @ w, -30, 30)))
            grad = design.T @ (p - correct[:, k]) / max(m, 1) + l2 * w
            hess = (design * (p * (1 - p))[:, None]).T @ design / max(m, 1) + l2 * np.eye(f + 1)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-10:
                break
        weights = w[:f] / std
        bias = w[f] - float(weights @ mean)
        head.append([float(np.float32(v)) for v in (*weights, bias)])
    return head
