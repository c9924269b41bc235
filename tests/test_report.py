"""tools/report.py on a trained tiny model: files exist, parse, and agree with each other."""
from __future__ import annotations

import csv
import json

import pytest

from gfvideo.compute.exit_scores import SCORES
from gfvideo.compute.exits import load_thresholds

from .conftest import run_tool, tiny_options

PNG = b'\x89PNG\r\n\x1a\n'


def test_report_files(tiny_demo, trained, tmp_path):
    config, ckpt, extra = trained['gf']
    base_config, base_ckpt, base_extra = trained['static']
    out = tmp_path / 'report'
    run_tool('tools/report.py', config, ckpt, '--out', str(out), '--baseline', base_config, base_ckpt,
             '--examples', '2', '--latency', '3', '--cfg-options', *tiny_options(tiny_demo), *extra,
             '--baseline-cfg-options', *tiny_options(tiny_demo), *base_extra)
    summary = json.loads((out / 'summary.json').read_text())
    clips = [json.loads(line) for line in (out / 'clips.jsonl').read_text().splitlines()]
    rows = list(csv.DictReader(open(out / 'clips.csv')))
    assert len(clips) == len(rows) == summary['num_clips'] == 12
    costs = summary['exit_costs']
    for clip in clips:
        assert clip['gflops'] == costs[clip['exit']]               # the cost of what ran up to its exit
        assert len(clip['confidences']) == clip['exit'] + 1
        assert len(clip['boxes']) == len(clip['frames'])
    # The report simulates early exit from the every-exit table; real early exit at the
    # operating point's thresholds (tools/test.py --budget) must give the same numbers.
    op = summary['operating_point']
    proc = run_tool('tools/test.py', config, ckpt, '--budget', str(op['budget']), '--work-dir', str(tmp_path / 'w'),
                    '--out', str(tmp_path / 'metrics.json'), '--cfg-options', *tiny_options(tiny_demo), *extra)
    measured = json.loads((tmp_path / 'metrics.json').read_text())
    assert measured['top1'] == pytest.approx(op['top1'], abs=1e-6)
    assert measured['gflops'] == pytest.approx(op['mean_gflops'], rel=1e-6)
    assert len(summary['anytime_top1']) == len(costs) and summary['baseline']['mean_gflops'] > costs[-1]
    assert all(b['thresholds'][-1] == 0.0 for b in summary['budgets'])
    # --latency 3: three clips timed under every rule (the baseline too); their ms at the operating point
    latency = summary['latency']
    assert latency['clips'] == 3 and latency['batch'] == 1 and latency['device'].startswith('cpu')
    assert [e['exit'] for e in latency['exits']] == list(range(len(costs)))
    assert [b['budget'] for b in latency['budgets']] == [b['budget'] for b in summary['budgets']]
    assert all(r['mean_ms'] > 0 for r in latency['exits'] + latency['budgets'] + [latency['baseline']])
    assert sum(c['ms'] is not None for c in clips) == 3 and 'Latency: 3 clips' in (out / 'summary.md').read_text()
    for name in ('budget_curve.png', 'exits.png', 'patch_heatmap.png', 'examples.png', 'latency_curve.png'):
        assert (out / name).read_bytes()[:8] == PNG, name
    assert '# Compute report' in (out / 'summary.md').read_text()
    page = (out / 'report.html').read_text()    # every clip thumbnailed, nothing fetched (browser: test_report_html.py)
    assert page.count('data:image/jpeg;base64,') == 12 and 'http://' not in page and 'https://' not in page
    # thresholds are fitted on the held-out split (val), reported on another (test)
    assert summary['meta']['held_out'].endswith('val.json') and summary['meta']['split'].endswith('test.json')
    # both curves reported; the sidecar holds the operating curve's rule on the chosen score
    assert set(summary['curves']) == {'optimal', 'geometric'} and summary['fit'] == 'optimal'
    assert summary['budgets'] == summary['curves']['optimal'] and summary['exit_score']['score'] in SCORES
    assert all(r['score'] == 'max_prob' for r in summary['curves']['geometric'])
    _, rule = load_thresholds(ckpt, op['budget'])
    assert rule.thresholds == op['thresholds'] and rule.score == summary['exit_score']['score'] == op['score']
