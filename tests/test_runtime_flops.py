"""The cost a clip reports equals what actually ran, counted at run time by torch's FlopCounterMode."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from gfvideo.compute.costs import glance_focus_costs
from gfvideo.models import GlanceFocusRecognizer

# FlopCounterMode counts matmuls and convolutions only: leave batch norm, pooling and
# interpolation out of our count too, for a like-for-like comparison.
NOT_MATMUL = {op: None for op in ('aten::batch_norm', 'aten::adaptive_avg_pool2d', 'aten::max_pool2d',
                                  'aten::avg_pool2d', 'aten::mean', 'aten::upsample_bilinear2d',
                                  'aten::_upsample_bilinear2d_aa')}


@pytest.mark.parametrize('frames_per_step', [1, 2])
def test_reported_cost_matches_runtime_count(frames_per_step):
    torch.manual_seed(0)
    model = GlanceFocusRecognizer(
        num_classes=6, num_frames=4, input_size=64,
        glance=dict(backbone='resnet18', size=32, width=8), focus=dict(backbone='resnet18', patch=24, width=8),
        locator=dict(type='learned', hidden=8), frames_per_step=frames_per_step,
        aggregator=dict(type='gru', hidden=16)).eval()
    clips = torch.randn(20, 4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    # thresholds at per-exit median confidences, so the 20 clips leave at different exits
    with torch.no_grad():
        logits = model.run(clips).logits
    model.exit_thresholds = [float(l.softmax(-1).amax(-1).median()) for l in logits]
    model.component_costs()                                   # trace once, outside the counted region
    matmul_costs = model.exit_costs(glance_focus_costs(model, handles=NOT_MATMUL))
    exits = set()
    for clip in clips:
        with FlopCounterMode(display=False) as counter:
            result = model(clip[None], mode='predict')[0]
        exits.add(result['exit'])
        measured = counter.get_total_flops() / 2 / 1e9       # FLOPs -> multiply-adds, in G
        assert matmul_costs[result['exit']] == pytest.approx(measured, rel=0.01)
        assert result['gflops'] == model.exit_costs()[result['exit']]
    assert len(exits) > 1
