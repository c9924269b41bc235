"""Per-clip cost of gfvideo's models, component by component.

Each component is traced once at batch 1 with the shapes it sees at test time; a clip's
cost is the sum of the components that ran for it (see ``exit_costs`` on the recognizer).
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .flops import count_gflops


class MethodCall(nn.Module):
    """Expose ``module.<method>(*tensors, **kwargs)`` as a forward, so it can be traced and counted."""

    def __init__(self, module: nn.Module, method: str = 'forward', **kwargs) -> None:
        super().__init__()
        self.module, self.method, self.kwargs = module, method, kwargs

    def forward(self, *tensors):
        out = getattr(self.module, self.method)(*tensors, **self.kwargs)
        if dataclasses.is_dataclass(out):  # the tracer takes tensors, tuples and lists only
            return tuple(v for v in dataclasses.astuple(out) if v is not None)
        return out


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def glance_focus_costs(model, handles: dict | None = None) -> dict[str, float]:
    """GFLOPs of one clip's glance, aggregator init, and one focus step's locator / focus / aggregator.

    ``handles`` overrides the counter's op handles (see ``gfvideo.compute.flops.analyze_flops``).
    """
    dev, n, k, s = _device(model), model.num_frames, model.frames_per_step, model.input_size
    frames = torch.zeros(1, n, 3, s, s, device=dev)
    generator_state = model.generator.get_state()  # tracing a random locator must not consume the model's RNG
    try:
        maps, pooled = model.glance(frames)
        state, _ = model.aggregator.init(pooled)
        frame_ids = torch.arange(k, device=dev)[None]
        centers = torch.full((1, k, 2), 0.5, device=dev)
        focus = model.focus(frames, frame_ids, centers)
        focused = torch.zeros(1, n, dtype=torch.bool, device=dev)
        return {
            'glance': count_gflops(model.glance, (frames,), handles=handles),
            'aggregator_init': count_gflops(MethodCall(model.aggregator, 'init'), (pooled,), handles=handles),
            'locator': count_gflops(MethodCall(model.locator, frames_per_step=k), (maps, state, focused),
                                    handles=handles),
            'focus': count_gflops(model.focus, (frames, frame_ids, centers), handles=handles),
            'aggregator_step': count_gflops(MethodCall(model.aggregator, 'step'),
                                            (state, pooled[:, :k], focus), handles=handles),
        }
    finally:
        model.generator.set_state(generator_state)


@torch.no_grad()
def static_tsm_cost(model) -> float:
    """GFLOPs of one clip through a :class:`~gfvideo.models.static_tsm.StaticTSM`."""
    s = model.input_size
    frames = torch.zeros(1, model.num_frames, 3, s, s, device=_device(model))
    return count_gflops(model, (frames,))


def model_exit_costs(model: nn.Module) -> list[float]:
    """GFLOPs per clip at each exit of a recognizer (a static model has one exit); counted once and cached."""
    return model.exit_costs() if hasattr(model, 'exit_costs') else [model.gflops()]
