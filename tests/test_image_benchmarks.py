"""benchmarks/image_latency.py's protocol: which budget's exit fractions, mapped to the timed
model's exits, and thresholds under which exactly those shares of the images leave."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'benchmarks'))
from image_latency import counts_for, demo_fractions, map_fractions, thresholds_for  # noqa: E402

from gfvideo.models import GlanceFocusRecognizer  # noqa: E402


def test_budget_choice_and_mapping(tmp_path):
    summary = dict(baseline=dict(top1=90.0), budgets=[
        dict(budget=0.02, top1=89.6, exit_counts=[6, 2, 2, 0]), dict(budget=0.01, top1=80.0, exit_counts=[10, 0, 0, 0]),
        dict(budget=0.03, top1=89.8, exit_counts=[2, 4, 4, 0])])
    (tmp_path / 's.json').write_text(json.dumps(summary))
    fractions, line = demo_fractions(tmp_path / 's.json')
    assert fractions == pytest.approx([0.6, 0.2, 0.2, 0.0]) and 'within 0.5 points' in line   # 89.6 >= 89.5
    summary['baseline']['top1'] = 100.0                 # none close: the most accurate budget
    (tmp_path / 's.json').write_text(json.dumps(summary))
    fractions, line = demo_fractions(tmp_path / 's.json')
    assert fractions == pytest.approx([0.2, 0.4, 0.4, 0.0]) and 'most accurate' in line
    # 4 exits onto 3 (0, 1/3, 2/3, 1 of the way -> exits 0, 1, 1, 2) and onto 5 (0, 1, 3, 4)
    assert map_fractions([0.1, 0.2, 0.3, 0.4], 3) == pytest.approx([0.1, 0.5, 0.4])
    assert map_fractions([0.1, 0.2, 0.3, 0.4], 5) == pytest.approx([0.1, 0.2, 0.0, 0.3, 0.4])
    assert counts_for([0.0, 0.824, 0.176], 32) == [0, 26, 6] and sum(counts_for([1 / 3] * 3, 16)) == 16


def test_thresholds_send_exactly_the_wanted_counts():
    torch.manual_seed(0)
    model = GlanceFocusRecognizer(
        num_classes=7, num_frames=1, input_size=64, num_steps=2, frames_per_step=1, revisit=True,
        glance=dict(backbone='resnet18', size=32, width=8, feature_stage=4, min_cells=1),
        focus=dict(backbone='resnet18', patch=32, width=8),
        policy=dict(type='gfnet', map_size=1, encoder='conv', hidden=8), aggregator=dict(type='gfnet_concat')).eval()
    model._step_costs = [0.0] * model.num_exits
    with torch.no_grad():
        for head in model.aggregator.heads:
            head.weight.mul_(10)
        x = torch.randn(12, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        for counts in ([0, 9, 3], [4, 4, 4], [12, 0, 0]):
            thresholds = thresholds_for(model, x, counts)
            exits = model.run(x, thresholds).exit_index.numpy()
            assert np.bincount(exits, minlength=3).tolist() == counts
