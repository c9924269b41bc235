"""The cost a clip reports equals what actually ran, counted at run time by torch's FlopCounterMode.

Over every kind of focus schedule: one-look chunks, steps of unequal size, and revisits.
"""
import itertools

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from gfvideo.compute.costs import glance_focus_step_costs
from gfvideo.models import GlanceFocusRecognizer

# FlopCounterMode counts matmuls and convolutions only: leave batch norm, pooling and
# interpolation out of our count too, for a like-for-like comparison.
NOT_MATMUL = {op: None for op in ('aten::batch_norm', 'aten::adaptive_avg_pool2d', 'aten::max_pool2d',
                                  'aten::avg_pool2d', 'aten::mean', 'aten::upsample_bilinear2d',
                                  'aten::_upsample_bilinear2d_aa')}
SCHEDULES = {'chunks of 1': dict(frames_per_step=1), 'chunks of 2': dict(frames_per_step=2),
             'unequal steps 2+1': dict(num_focus_frames=3, frames_per_step=2),
             'revisit 2 steps x 4 frames': dict(revisit=True, num_steps=2, frames_per_step=4),
             'revisit 3 steps x 3 of 4 frames': dict(revisit=True, num_steps=3, frames_per_step=3)}


@pytest.mark.parametrize('schedule', SCHEDULES.values(), ids=SCHEDULES.keys())
def test_reported_cost_matches_runtime_count(schedule):
    torch.manual_seed(0)
    model = GlanceFocusRecognizer(
        num_classes=6, num_frames=4, input_size=64,
        glance=dict(backbone='resnet18', size=32, width=8), focus=dict(backbone='resnet18', patch=24, width=8),
        policy=dict(type='learned', hidden=8), aggregator=dict(type='gru', hidden=16), **schedule).eval()
    clips = torch.randn(20, 4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    # thresholds at per-exit median confidences, so the 20 clips leave at different exits
    with torch.no_grad():
        logits = model.run(clips).logits
    thresholds = [float(l.softmax(-1).amax(-1).median()) for l in logits]
    steps = model.step_costs()                                # trace once, outside the counted region
    matmul = list(itertools.accumulate(glance_focus_step_costs(model, handles=NOT_MATMUL)))
    if schedule.get('num_focus_frames') == 3:                 # the last step looks at one frame, not two
        assert steps[2] < steps[1]
    exits = set()
    for clip in clips:
        with FlopCounterMode(display=False) as counter:
            result = model.predict(clip[None], None, thresholds)[0]
        exits.add(result['exit'])
        measured = counter.get_total_flops() / 2 / 1e9       # FLOPs -> multiply-adds, in G
        assert matmul[result['exit']] == pytest.approx(measured, rel=0.01)
        assert result['gflops'] == pytest.approx(sum(steps[:result['exit'] + 1]), rel=1e-12)
    assert len(exits) > 1


def test_gfnet_per_length_heads_cost_more_each_step():
    """GFNet's MobileNetV3 classifier: exit t reads t + 1 features, so each step costs one more
    ``C x classes`` than the step before it; the reported cost still equals what ran."""
    torch.manual_seed(0)
    model = GlanceFocusRecognizer(
        num_classes=7, num_frames=1, input_size=64, num_steps=3, frames_per_step=1, revisit=True,
        glance=dict(backbone='resnet18', size=32, width=8, feature_stage=4, min_cells=1),
        focus=dict(backbone='resnet18', patch=32, width=8),
        policy=dict(type='gfnet', map_size=1, encoder='conv', hidden=8),
        aggregator=dict(type='gfnet_concat')).eval()
    images = torch.randn(12, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model.run(images).logits
    thresholds = [float(l.softmax(-1).amax(-1).median()) for l in logits]
    steps = model.step_costs()
    c = model.aggregator.channels
    head_step = c * 7 / 1e9
    assert [b - a for a, b in zip(steps[1:], steps[2:])] == pytest.approx([head_step] * 2, rel=1e-6)
    matmul = list(itertools.accumulate(glance_focus_step_costs(model, handles=NOT_MATMUL)))
    exits = set()
    for image in images:
        with FlopCounterMode(display=False) as counter:
            result = model.predict(image[None], None, thresholds)[0]
        exits.add(result['exit'])
        assert matmul[result['exit']] == pytest.approx(counter.get_total_flops() / 2 / 1e9, rel=0.01)
        assert result['gflops'] == pytest.approx(sum(steps[:result['exit'] + 1]), rel=1e-12)
    assert len(exits) > 1
