"""The per-clip compute report: tables, summary, plots and a page a person reads in a minute.

Written by ``tools/report.py``::

    OUT/clips.csv, clips.jsonl   one row per clip at the chosen budget
    OUT/summary.json             accuracy, GFLOPs statistics, anytime accuracy, budget curves
                                 (fitted and geometric), the exit score and its check, baseline
    OUT/budget_curve.png, exits.png, patch_heatmap.png, examples.png
    OUT/latency_curve.png        with a clock (``--latency N``): top-1 against mean ms per clip
    OUT/summary.md
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..compute.exit_scores import SCORES, ExitRule, score_table
from ..compute.exits import FITS, ScoreChoice, choose_score, fit_curve, simulate
from . import plots
from .clips import ClipTable
from .latency import ClipClock, markdown as latency_markdown, measure_latency


def fit_rules(held_out: ClipTable, budgets: list[float], score: str = 'auto') -> tuple[ScoreChoice, dict]:
    """Both curves' exit rules per budget, fitted on ``held_out`` alone.

    ``'optimal'``: the most accurate thresholds within each budget on the chosen score
    (``score='auto'``: the one that does best on a reserved part of ``held_out``,
    :func:`~gfvideo.compute.exits.choose_score`); ``'geometric'``: MSDNet's procedure on
    the max softmax probability, as published. Returns (the choice, ``{fit: [(plan, rule)]}``).
    """
    candidates = SCORES if score == 'auto' else (score,)
    choice = choose_score(held_out.features, held_out.correct, held_out.exit_costs, budgets, candidates)
    fitted = score_table(held_out.features, choice.score, choice.head)
    optimal = fit_curve(fitted, held_out.exit_costs, budgets, held_out.correct)
    geometric = fit_curve(held_out.confidences, held_out.exit_costs, budgets, held_out.correct, fit='geometric')
    return choice, dict(optimal=[(p, ExitRule(p.thresholds, choice.score, choice.head)) for p in optimal],
                        geometric=[(p, ExitRule(p.thresholds)) for p in geometric])


def budget_rows(fitted: list[tuple], table: ClipTable) -> list[dict]:
    """Each budget's rule (fitted on the held-out split) applied to ``table``."""
    rows = []
    for plan, rule in fitted:
        result = simulate(score_table(table.features, rule.score, rule.head), table.correct, rule.thresholds,
                          table.exit_costs)
        rows.append(dict(budget=plan.budget, score=rule.score, thresholds=rule.thresholds, top1=result['top1'],
                         mean_gflops=result['mean_gflops'], held_out_gflops=plan.expected_gflops,
                         held_out_top1=plan.expected_top1, exits=result['exits']))
    return rows


def fitted_rules(summary: dict) -> dict[float, ExitRule]:
    """The operating curve's rule per budget, from a report's summary (for the thresholds sidecar)."""
    head = summary['exit_score']['head']
    return {r['budget']: ExitRule(r['thresholds'], r['score'], head if r['score'] == 'learned' else None)
            for r in summary['budgets']}


def default_budgets(exit_costs: list[float], n: int = 5) -> list[float]:
    """``n`` budgets spread between the first exit's cost and the last's."""
    return np.linspace(exit_costs[0], exit_costs[-1], n + 2)[1:-1].round(6).tolist()


def _with_counts(row: dict, num_exits: int) -> dict:
    """A budget row for summary.json: the clips leaving at each exit (``exit_counts``) in place of their exits."""
    counts = np.bincount(np.asarray(row['exits']), minlength=num_exits).tolist()
    return {**{k: v for k, v in row.items() if k != 'exits'}, 'exit_counts': counts}


def _stats(costs: np.ndarray) -> dict:
    return dict(mean_gflops=float(costs.mean()), median_gflops=float(np.median(costs)),
                p90_gflops=float(np.percentile(costs, 90)))


def write_report(out: Path, table: ClipTable, held_out: ClipTable, budgets: list[float], budget: float,
                 class_names: list[str], meta: dict, baseline: ClipTable | None = None,
                 load_frames: Callable[[int], np.ndarray] | None = None, num_examples: int = 4,
                 fit: str = 'optimal', score: str = 'auto', clock: ClipClock | None = None,
                 baseline_clock: ClipClock | None = None) -> dict:
    """Write every report file under ``out``; returns the summary dict.

    ``budget`` picks the operating point of the per-clip table, on the ``fit`` curve
    (``'optimal'`` or ``'geometric'``; both are reported); ``score`` the fitted curve's exit
    score (``'auto'``: chosen on the held-out check). ``load_frames(i)`` returns clip ``i``'s
    sampled frames (uint8 ``[N, H, W, 3]``) for the example picture. ``clock`` times some
    clips at batch 1 under every exit rule (``baseline_clock`` the baseline's): a latency
    section, the timed clips' ``ms`` at the operating point (None for the others).
    """
    if fit not in FITS:
        raise ValueError(f'fit={fit!r}: choose from {list(FITS)}')
    out.mkdir(parents=True, exist_ok=True)
    choice, fitted = fit_rules(held_out, sorted(set(budgets) | {budget}), score)
    curves = {name: budget_rows(plans, table) for name, plans in fitted.items()}
    rows = curves[fit]
    point = next(r for r in rows if r['budget'] == budget)
    point_rule = next(rule for plan, rule in fitted[fit] if plan.budget == budget)
    point_scores = score_table(table.features, point_rule.score, point_rule.head)
    exits = point['exits']
    m = len(table.clip_ids)
    idx = np.arange(m)
    costs = np.asarray(table.exit_costs)[exits]
    preds = table.predictions[idx, exits]
    top5 = table.top5[idx, exits]
    baseline_entry = None if baseline is None else dict(
        top1=float(baseline.correct[:, 0].mean() * 100),
        top5=float((baseline.top5[:, 0] == baseline.labels[:, None]).any(1).mean() * 100),
        mean_gflops=float(baseline.exit_costs[0]))
    latency, clip_ms = None, {}
    if clock is not None:
        latency, clip_ms = measure_latency(clock, table, rows, [rule for _, rule in fitted[fit]], budget,
                                           None if baseline_clock is None else (baseline_clock, baseline_entry))

    clips = []
    for i in range(m):
        e = int(exits[i])
        looks = table.looks[i][:e] if table.looks else []
        clips.append(dict(clip_id=table.clip_ids[i], label=int(table.labels[i]), prediction=int(preds[i]),
                          label_name=_name(class_names, table.labels[i]), prediction_name=_name(class_names, preds[i]),
                          confidences=[round(float(c), 5) for c in table.confidences[i, :e + 1]],
                          scores=[round(float(c), 5) for c in point_scores[i, :e + 1]],
                          exit=e, gflops=float(costs[i]), **({'ms': clip_ms.get(i)} if clock else {}),
                          frames=[f for look in looks for f in look['frames']],
                          boxes=[b for look in looks for b in look['boxes']]))
    with open(out / 'clips.jsonl', 'w') as f:
        for c in clips:
            f.write(json.dumps(c) + '\n')
    with open(out / 'clips.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(clips[0]))
        writer.writeheader()
        for c in clips:
            writer.writerow({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in c.items()})

    full_exit = len(table.exit_costs) - 1
    summary = dict(
        meta=meta, num_clips=m, exit_costs=table.exit_costs,
        anytime_top1=table.anytime_top1(),
        no_early_exit=dict(top1=float(table.correct[:, full_exit].mean() * 100),
                           top5=float((table.top5[:, full_exit] == table.labels[:, None]).any(1).mean() * 100),
                           mean_gflops=float(table.exit_costs[-1])),
        fit=fit,
        exit_score=dict(score=choice.score, chosen_by='--score' if score != 'auto' else 'held-out check'
                        if choice.check_top1 else 'too few held-out clips to check: the first candidate',
                        check_top1=choice.check_top1, fit_clips=choice.fit_clips, check_clips=choice.check_clips,
                        head=choice.head),
        operating_point=dict(budget=budget, fit=fit, score=point['score'], thresholds=point['thresholds'],
                             top1=float((preds == table.labels).mean() * 100),
                             top5=float((top5 == table.labels[:, None]).any(1).mean() * 100),
                             exit_counts=np.bincount(exits, minlength=len(table.exit_costs)).tolist(), **_stats(costs)),
        budgets=[_with_counts(r, len(table.exit_costs)) for r in rows],
        curves={name: [_with_counts(r, len(table.exit_costs)) for r in c] for name, c in curves.items()},
    )
    if baseline_entry is not None:
        summary['baseline'] = baseline_entry
    if latency is not None:
        summary['latency'] = latency
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))

    plots.budget_curve(out / 'budget_curve.png', summary['curves'],
                       list(zip(table.exit_costs, summary['anytime_top1'])), summary.get('baseline'))
    if latency is not None:
        plots.latency_curve(out / 'latency_curve.png', latency)
    plots.exit_histogram(out / 'exits.png', exits, len(table.exit_costs))
    all_boxes = np.array([b for c in clips for b in c['boxes']], dtype=np.float64).reshape(-1, 4)
    frame_hw = meta.get('frame_hw', (0, 0))
    plots.patch_heatmap(out / 'patch_heatmap.png', all_boxes, frame_hw)
    if load_frames is not None and m:
        chosen = np.linspace(0, m - 1, min(num_examples, m)).astype(int)
        plots.example_clips(out / 'examples.png', [
            dict(frames=load_frames(int(i)), looks=table.looks[i][:int(exits[i])] if table.looks else [],
                 title=f"{clips[i]['clip_id']}: {clips[i]['label_name']} -> {clips[i]['prediction_name']} "
                       f"(exit {clips[i]['exit']}, {clips[i]['gflops']:.4f} GFLOPs)") for i in chosen])
    (out / 'summary.md').write_text(_markdown(summary))
    return summary


def _name(class_names: list[str], index) -> str:
    index = int(index)
    return class_names[index] if 0 <= index < len(class_names) else str(index)


def _markdown(s: dict) -> str:
    op, full = s['operating_point'], s['no_early_exit']
    lines = [
        f"# Compute report: {s['meta'].get('config', '')}",
        '',
        f"{s['num_clips']} clips of `{s['meta'].get('split', '')}`; checkpoint `{s['meta'].get('checkpoint', '')}`.",
        '',
        f"- **At a budget of {op['budget']:.4g} GFLOPs per clip**: top-1 {op['top1']:.1f}%, top-5 {op['top5']:.1f}%, "
        f"mean {op['mean_gflops']:.4g} GFLOPs (median {op['median_gflops']:.4g}, p90 {op['p90_gflops']:.4g}); "
        f"clips leaving at each exit: {op['exit_counts']}.",
        f"- **Without early exit**: top-1 {full['top1']:.1f}%, top-5 {full['top5']:.1f}%, {full['mean_gflops']:.4g} GFLOPs per clip.",
    ]
    if 'baseline' in s:
        b = s['baseline']
        lines.append(f"- **Static TSM baseline**: top-1 {b['top1']:.1f}%, top-5 {b['top5']:.1f}%, "
                     f"{b['mean_gflops']:.4g} GFLOPs per clip.")
    es = s['exit_score']
    check = ', '.join(f'{k} {v:.1f}' for k, v in es['check_top1'].items())
    lines += [f"- **Exit score** of the fitted curve: `{es['score']}` ({es['chosen_by']}"
              + (f"; mean top-1 over the budgets on {es['check_clips']} reserved held-out clips, thresholds "
                 f"fitted on the other {es['fit_clips']}: {check}" if check else '') + ').',
              f"- **Operating point** on the `{s['fit']}` curve; its thresholds go to the sidecar.",
              '', 'Budgets: thresholds fitted on the held-out split, top-1 and mean GFLOPs on this split. '
              '*Fitted*: the most accurate thresholds within the budget (held-out); *geometric*: '
              'the MSDNet procedure on the max softmax probability.', '',
              '| budget (GFLOPs) | fitted top-1 % | fitted GFLOPs | geometric top-1 % | geometric GFLOPs '
              '| fitted thresholds |', '|---|---|---|---|---|---|']
    for r, g in zip(s['curves']['optimal'], s['curves']['geometric']):
        lines.append(f"| {r['budget']:.4g} | {r['top1']:.1f} | {r['mean_gflops']:.4g} | {g['top1']:.1f} | "
                     f"{g['mean_gflops']:.4g} | {', '.join(f'{t:.3g}' for t in r['thresholds'])} |")
    lines += ['', 'Every clip forced to exit k (anytime accuracy):', '',
              '| exit | cumulative GFLOPs | top-1 % |', '|---|---|---|']
    for k, (c, a) in enumerate(zip(s['exit_costs'], s['anytime_top1'])):
        lines.append(f'| {k} | {c:.4g} | {a:.1f} |')
    if 'latency' in s:
        lines += latency_markdown(s['latency'])
    lines += ['', 'Thresholds were fitted on the held-out split, never on the split reported here.', '',
              '![budget curve](budget_curve.png) ![exits](exits.png)', '',
              '![where the focus looked](patch_heatmap.png)', '', '![examples](examples.png)', '']
    return '\n'.join(lines)
