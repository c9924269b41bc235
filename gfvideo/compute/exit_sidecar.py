"""The thresholds sidecar beside a checkpoint: ``CHECKPOINT.exits.json``.

Written by ``tools/report.py`` (:func:`sidecar_json`), read by ``tools/test.py --budget`` and
``tools/infer.py --budget`` (:func:`load_thresholds`), so all three agree on the format::

    {"format": 2, "fit": "optimal", "score": "learned", "head": [[w..., b], ...],
     "thresholds": {"0.0161": [t0, t1, ..., 0.0], ...}}

``score`` and ``head`` (:class:`~gfvideo.compute.exit_scores.ExitRule`) say what the
thresholds apply to. Sidecars written before scores existed, ``{"0.0161": [t0, ...], ...}``,
still load: their thresholds are on the max softmax probability.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .exit_scores import ExitRule

FORMAT = 2


class ThresholdsError(ValueError):
    """A thresholds sidecar that can't be read; the message names the file."""


def sidecar_path(checkpoint: str | os.PathLike) -> Path:
    """Where tools/report.py writes a checkpoint's fitted thresholds: ``CHECKPOINT.exits.json``."""
    return Path(checkpoint).with_suffix('.exits.json')


def sidecar_json(rules: dict[float, ExitRule], fit: str) -> str:
    """The sidecar's text for fitted rules by budget (all on one score, as the report fits them)."""
    first = next(iter(rules.values()))
    if any(r.score != first.score or r.head != first.head for r in rules.values()):
        raise ValueError('a sidecar holds thresholds on one score')
    data = dict(format=FORMAT, fit=fit, score=first.score, head=first.head,
                thresholds={str(b): r.thresholds for b, r in rules.items()})
    return json.dumps(data, indent=2)


def _parse(data: object) -> dict[float, ExitRule]:
    if isinstance(data, dict) and isinstance(data.get('thresholds'), dict):
        score, head = data.get('score', 'max_prob'), data.get('head')
        return {float(k): ExitRule(list(v), score, head) for k, v in data['thresholds'].items()}
    return {float(k): ExitRule([float(t) for t in v]) for k, v in data.items()}   # before scores: max-prob


def load_thresholds(checkpoint: str | os.PathLike, budget: float) -> tuple[float, ExitRule]:
    """The fitted budget nearest ``budget`` and its :class:`ExitRule`, from the checkpoint's sidecar.

    Shared by tools/test.py and tools/infer.py (``--budget``), so both pick thresholds the
    same way. Raises FileNotFoundError (saying how to make one) when there is no sidecar,
    ThresholdsError naming it when it isn't a thresholds file.
    """
    sidecar = sidecar_path(checkpoint)
    if not sidecar.exists():
        raise FileNotFoundError(f'no fitted thresholds at {sidecar}: run tools/report.py on this checkpoint first')
    try:
        fitted = _parse(json.loads(sidecar.read_text()))
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # unreadable, not JSON, not budget -> list
        raise ThresholdsError(f'{sidecar}: not a thresholds file ({type(exc).__name__}: {exc}); '
                              f'rerun tools/report.py on this checkpoint') from exc
    if not fitted:
        raise ThresholdsError(f'{sidecar} holds no fitted budgets')
    nearest = min(fitted, key=lambda b: abs(b - budget))
    return nearest, fitted[nearest]
