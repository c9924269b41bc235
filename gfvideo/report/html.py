"""The compute report as one page a person browses: ``OUT/report.html``, written by ``tools/report.py``.

One self-contained file that works offline and can be mailed: the summary and budget
tables (from ``summary.json``), the report's PNG plots, a gallery of clip thumbnails (the
sampled frames with each focus step's numbered patches, :mod:`gfvideo.report.draw`) and a
paged table of every clip, sortable and filterable by exit, GFLOPs, confidence,
correctness and text. Images are data URIs; styles and a small vanilla script live in
``report_template.html`` beside this module; nothing is fetched from the network.

A big split must still give a page that opens: only a stratified sample of clips
(:func:`sample_clips`: by exit and correctness, plus wrong clips up to a limit) gets a
thumbnail; every clip is in the table, as compact JSON the script renders a page at a time.
"""
from __future__ import annotations

import base64
import html
import io
import json
import re
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from .draw import focus_frame
from .plots import STEP_COLOURS

PLOTS = (('budget_curve.png', 'Top-1 against mean GFLOPs per clip: fitted budgets and every clip forced to exit k'),
         ('latency_curve.png', 'Top-1 against mean milliseconds per clip at batch 1 (--latency)'),
         ('exits.png', 'Exit taken at the operating point'),
         ('patch_heatmap.png', 'Where the focus patches landed'),
         ('examples.png', 'Example clips with their focus patches'))
MS_KEYS = ('ms', 'latency_ms')  # per-clip time, when the records carry it
THUMB_SIDE = 80                 # pixels of a thumbnail frame's longer side
THUMB_COLUMNS = 8               # frames per thumbnail row; longer clips wrap


def write_html(out: Path, summary: dict, clips: list[dict] | None = None,
               load_frames: Callable[[int], np.ndarray] | None = None,
               thumbnails: int = 300, wrong: int = 200, seed: int = 0) -> Path:
    """Write ``out/report.html`` from a report's ``summary`` and per-clip records; returns its path.

    ``clips`` defaults to ``out/clips.jsonl`` (what :func:`~gfvideo.report.writer.write_report`
    wrote); ``load_frames(i)`` gives clip ``i``'s frames (uint8 ``[N, H, W, 3]``, ``N`` may be 1)
    for the thumbnails, which :func:`sample_clips` caps at ``thumbnails`` + ``wrong``.
    """
    out = Path(out)
    if clips is None:
        clips = [json.loads(line) for line in (out / 'clips.jsonl').read_text().splitlines() if line]
    correct = np.array([c['label'] == c['prediction'] for c in clips], dtype=bool)
    exits = np.array([c['exit'] for c in clips], dtype=np.int64)
    chosen = sample_clips(exits, correct, thumbnails, wrong, seed)
    thumbs = [_data_uri(thumbnail(load_frames(int(i)), record_steps(clips[i])), 'image/jpeg')
              if load_frames is not None else None for i in chosen]
    parts = dict(title=html.escape(f"Compute report: {summary.get('meta', {}).get('config', '')}"),
                 summary=summary_html(summary), plots=_plots_html(out),
                 data=_script_json(_page_data(summary, clips, correct, chosen, thumbs, thumbnails, wrong)))
    template = resources.files(__package__).joinpath('report_template.html').read_text(encoding='utf-8')
    page = re.sub(r'\{\{(\w+)\}\}', lambda m: parts[m[1]], template)  # one pass: nothing inserted is re-read
    path = out / 'report.html'
    path.write_text(page, encoding='utf-8')
    return path


def sample_clips(exits: np.ndarray, correct: np.ndarray, thumbnails: int, wrong: int,
                 seed: int = 0) -> np.ndarray:
    """Sorted indices of the clips that get a thumbnail: every clip when there are at most
    ``thumbnails``; otherwise ``thumbnails`` stratified by (exit, correctness) and up to
    ``wrong`` more of the wrong clips (stratified by exit), so rare exits and mistakes are seen."""
    exits, correct = np.asarray(exits), np.asarray(correct, dtype=bool)
    if len(exits) <= thumbnails:
        return np.arange(len(exits))
    rng = np.random.default_rng(seed)
    chosen = _stratified(exits * 2 + correct, thumbnails, rng)
    rest = np.ones(len(exits), dtype=bool)
    rest[chosen] = False
    mistakes = np.flatnonzero(~correct & rest)
    return np.union1d(chosen, mistakes[_stratified(exits[mistakes], wrong, rng)])


def _stratified(keys: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn without replacement, shared among the groups of equal ``keys`` in
    proportion to their sizes (largest remainders), each group at least one while ``n`` allows."""
    if len(keys) <= n:
        return np.arange(len(keys))
    groups = [np.flatnonzero(keys == k) for k in np.unique(keys)]
    sizes = np.array([len(g) for g in groups])
    share = n * sizes / sizes.sum()
    take = np.minimum(sizes, np.maximum(1, np.floor(share))).astype(int)
    while take.sum() > n:                   # more groups than places: the biggest give way
        take[np.argmax(take)] -= 1
    order = np.argsort(-(share - np.floor(share)), kind='stable')
    while take.sum() < n:                   # the places left, one each, largest remainders first
        for g in order:
            if take.sum() < n and take[g] < sizes[g]:
                take[g] += 1
    return np.sort(np.concatenate([rng.choice(g, t, replace=False) for g, t in zip(groups, take)]))


def record_steps(clip: dict) -> list[dict]:
    """A per-clip record's looks per focus step (``frames``, ``boxes``). The report's records
    list the ``exit`` steps one after the other, each with the same number of patches; records
    that already nest them per step are taken as they are."""
    frames, boxes, n = clip.get('frames') or [], clip.get('boxes') or [], int(clip['exit'])
    if frames and isinstance(frames[0], list):
        return [dict(frames=f, boxes=b) for f, b in zip(frames, boxes)]
    if not n or not frames:
        return []
    k = -(-len(frames) // n)
    return [dict(frames=frames[s:s + k], boxes=boxes[s:s + k]) for s in range(0, len(frames), k)]


def thumbnail(frames: np.ndarray, steps: list[dict], side: int = THUMB_SIDE,
              columns: int = THUMB_COLUMNS, quality: int = 82) -> bytes:
    """A JPEG contact sheet of a clip's frames (``[N, H, W, 3]``, any ``N`` >= 1) with the boxes
    drawn, ``columns`` frames a row, each frame's longer side ``side`` pixels."""
    frames = np.asarray(frames)
    if frames.ndim == 3:  # one image
        frames = frames[None]
    n, h, w = frames.shape[:3]
    tiles = [focus_frame(f, steps, slot, side / max(h, w)) for slot, f in enumerate(frames)]
    tw, th = tiles[0].size
    cols, gap = min(n, columns), 2
    rows = -(-n // cols)
    sheet = Image.new('RGB', (cols * tw + (cols - 1) * gap, rows * th + (rows - 1) * gap), 'white')
    for slot, tile in enumerate(tiles):
        sheet.paste(tile, ((slot % cols) * (tw + gap), (slot // cols) * (th + gap)))
    buf = io.BytesIO()
    sheet.save(buf, 'JPEG', quality=quality)
    return buf.getvalue()


def summary_html(s: dict) -> str:
    """The summary and budget tables of ``summary.json`` as HTML (every value escaped)."""
    meta, op, full = s.get('meta', {}), s['operating_point'], s['no_early_exit']
    facts = [('clips', s['num_clips']), ('split', meta.get('split', '')), ('config', meta.get('config', '')),
             ('checkpoint', meta.get('checkpoint', '')), ('thresholds fitted on', meta.get('held_out', '')),
             ('frame (H, W)', ' x '.join(map(str, meta.get('frame_hw', []))))]
    models = [[f"early exit, budget {op['budget']:.4g}", _pct(op['top1']), _pct(op['top5']), _g(op['mean_gflops']),
               f"median {_g(op['median_gflops'])}, p90 {_g(op['p90_gflops'])}"],
              ['no early exit', _pct(full['top1']), _pct(full['top5']), _g(full['mean_gflops']), '']]
    if 'baseline' in s:
        b = s['baseline']
        models.append(['static baseline', _pct(b['top1']), _pct(b['top5']), _g(b['mean_gflops']), ''])
    budgets = [[_g(r['budget']), _pct(r['top1']), _g(r['mean_gflops']), _g(r.get('held_out_gflops', float('nan'))),
                ', '.join(f'{t:.3g}' for t in r['thresholds'])] for r in s['budgets']]
    counts, thresholds = op.get('exit_counts', []), op.get('thresholds', [])
    exits = [[_exit_name(k), _g(c), _pct(a), counts[k] if k < len(counts) else '',
              f'{thresholds[k]:.3g}' if k < len(thresholds) else '']
             for k, (c, a) in enumerate(zip(s['exit_costs'], s['anytime_top1']))]
    return '\n'.join([
        '<dl class="facts">' + ''.join(f'<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>'
                                       for k, v in facts if v != '') + '</dl>',
        _table(['model', 'top-1 %', 'top-5 %', 'mean GFLOPs per clip', 'GFLOPs spread'], models),
        '<h3>Budgets (thresholds fitted on the held-out split, applied here)</h3>',
        _table(['budget (GFLOPs)', 'top-1 %', 'mean GFLOPs', 'held-out GFLOPs', 'thresholds per exit'], budgets),
        '<h3>Exits</h3>',
        _table(['exit', 'cumulative GFLOPs', 'top-1 % if every clip left here', 'clips leaving here',
                'threshold'], exits)])


def _page_data(summary: dict, clips: list[dict], correct: np.ndarray, chosen: np.ndarray,
               thumbs: list[str | None], thumbnails: int, wrong: int) -> dict:
    """What the page's script reads: one compact row per clip, class names once, the thumbnails."""
    names = sorted({c['label_name'] for c in clips} | {c['prediction_name'] for c in clips})
    index = {n: i for i, n in enumerate(names)}
    slot = {int(i): k for k, i in enumerate(chosen)}
    ms_key = next((k for k in MS_KEYS if any(k in c for c in clips)), None)
    rows = [[c['clip_id'], index[c['label_name']], index[c['prediction_name']], int(correct[i]), int(c['exit']),
             float(c['gflops']), c['confidences'], c.get(ms_key) if ms_key else None, slot.get(i, -1)]
            for i, c in enumerate(clips)]
    return dict(columns=['clip_id', 'label', 'prediction', 'correct', 'exit', 'gflops', 'confidences', 'ms', 'thumb'],
                rows=rows, names=names, thumbs=thumbs, has_ms=ms_key is not None, colours=list(STEP_COLOURS),
                exit_costs=summary['exit_costs'], thresholds=summary['operating_point'].get('thresholds', []),
                sampled=len(chosen) < len(clips), thumbnails=thumbnails, wrong=wrong)


def _plots_html(out: Path) -> str:
    figures = [f'<figure><img alt="{html.escape(caption)}" src="{_data_uri((out / name).read_bytes(), "image/png")}">'
               f'<figcaption>{html.escape(caption)}</figcaption></figure>'
               for name, caption in PLOTS if (out / name).exists()]
    return '\n'.join(figures) or '<p>No plots in this report folder.</p>'


def _table(head: list[str], rows: list[list]) -> str:
    cells = lambda tag, row: ''.join(f'<{tag}>{html.escape(str(v))}</{tag}>' for v in row)  # noqa: E731
    return (f'<table class="summary"><thead><tr>{cells("th", head)}</tr></thead><tbody>'
            + ''.join(f'<tr>{cells("td", r)}</tr>' for r in rows) + '</tbody></table>')


def _script_json(data: dict) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` left raw."""
    text = json.dumps(data, separators=(',', ':'), allow_nan=False)
    return text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')


def _data_uri(data: bytes, mime: str) -> str:
    return f'data:{mime};base64,{base64.b64encode(data).decode("ascii")}'


def _exit_name(k: int) -> str:
    return 'glance (0)' if k == 0 else f'step {k}'


def _pct(v: float) -> str:
    return f'{v:.1f}'


def _g(v: float) -> str:
    return f'{v:.4g}'
