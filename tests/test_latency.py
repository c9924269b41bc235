"""gfvideo.compute.latency: forced exits really exit there, and the component timer accounts for
every millisecond of a run and sees the rows each step ran on (no timing targets: benchmarks/)."""
from __future__ import annotations

import pytest
import torch

from gfvideo.compute.latency import COMPONENTS, component_times, forced_exit, time_clips
from gfvideo.models import GlanceFocusRecognizer


@pytest.fixture(scope='module')
def model() -> GlanceFocusRecognizer:
    torch.manual_seed(0)
    return GlanceFocusRecognizer(
        num_classes=5, num_frames=4, input_size=64, glance=dict(backbone='resnet18', size=32, width=8),
        focus=dict(backbone='resnet18', patch=24, width=8), policy=dict(type='learned', hidden=8),
        frames_per_step=1, num_focus_frames=3, aggregator=dict(type='gru', hidden=16)).eval()


def test_forced_exit_sends_every_clip_out_there(model):
    x = torch.randn(3, 4, 3, 64, 64)
    with torch.no_grad():
        for k in range(model.num_exits):
            episode = model.run(x, forced_exit(k, model.num_exits))
            assert episode.exit_index.tolist() == [k] * 3
            assert len(episode.steps) == k + 1   # nothing ran after the exit


def test_component_times_account_for_the_whole_run(model):
    x = torch.randn(4, 4, 3, 64, 64)
    with torch.no_grad():
        conf = model.run(x).logits[0].softmax(-1).amax(-1).sort(descending=True).values
    threshold = float(conf[0] + conf[1]) / 2      # the most confident clip leaves at the glance
    with torch.no_grad(), component_times(model) as runs:
        model.run(x)
        model.run(x, [threshold, 2.0, 2.0, 0.0])
    assert 'run' not in vars(model) and 'forward' not in vars(model.glance)  # unwrapped afterwards
    assert len(runs) == 2
    for run in runs:
        assert set(run['parts']) == set(COMPONENTS)
        assert sum(run['parts'].values()) == pytest.approx(run['total'], rel=1e-6)
        assert all(run['parts'][c] > 0 for c in ('glance', 'policy', 'focus', 'aggregator'))
        assert len(run['steps']) == model.num_steps
    assert [s['rows'] for s in runs[0]['steps']] == [4, 4, 4]
    assert [s['rows'] for s in runs[1]['steps']] == [3, 3, 3]


def test_time_clips_times_each_clip_under_each_rule(model):
    clips = [torch.randn(4, 3, 64, 64) for _ in range(3)]
    ms = time_clips(model, clips, {'glance': forced_exit(0, model.num_exits), 'all': None})
    assert set(ms) == {'glance', 'all'} and all(len(v) == 3 and min(v) > 0 for v in ms.values())
