"""Per-clip cost of gfvideo's models, component by component.

Each component is traced once at batch 1 with the shapes it sees at test time; a clip's
cost is the sum of its steps' costs, each step's the sum of the components that ran in it
(``Recognizer.step_costs`` / ``exit_costs``).
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


class _PolicyCall(nn.Module):
    """A policy's forward on an observation's tensors, for the tracer."""

    def __init__(self, policy: nn.Module, k: int) -> None:
        super().__init__()
        self.policy, self.k = policy, k

    def forward(self, maps, state, looks, available):
        from ..models.policy import Observation
        action = self.policy(Observation(maps, state, looks, available), self.k)
        return action.frames, action.centers


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def glance_focus_costs(model, handles: dict | None = None) -> dict:
    """GFLOPs per clip of the glance, the aggregator's init, and each focus step's parts.

    Returns ``dict(glance=, aggregator_init=, steps=[dict(policy=, focus=, aggregator_step=)])``
    (one entry per focus step: steps that look at different numbers of frames cost
    differently). Side-effect free: eval mode while preparing the inputs, the model's
    generator restored. ``handles`` overrides the counter's op handles (see
    ``gfvideo.compute.flops.analyze_flops``).
    """
    dev, n, s = _device(model), model.num_frames, model.input_size
    frames = torch.zeros(1, n, 3, s, s, device=dev)
    generator_state = model.generator.get_state()  # tracing a random policy must not consume the model's RNG
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        maps, pooled = model.glance(frames)
        state, _ = model.aggregator.init(pooled)
        costs = dict(glance=count_gflops(model.glance, (frames,), handles=handles),
                     aggregator_init=count_gflops(MethodCall(model.aggregator, 'init'), (pooled,), handles=handles),
                     steps=[])
        by_size: dict[int, tuple[dict[str, float], torch.Tensor]] = {}   # policy and focus by frame count
        for t in range(1, model.num_exits):
            k = model.schedule.frames_at(t)
            if k not in by_size:
                frame_ids = torch.arange(k, device=dev)[None]
                centers = torch.full((1, k, 2), 0.5, device=dev)
                focus, _ = model.focus(frames, frame_ids, centers)
                looks = torch.zeros(1, n, dtype=torch.long, device=dev)
                available = torch.ones(1, n, dtype=torch.bool, device=dev)
                by_size[k] = (dict(
                    policy=count_gflops(_PolicyCall(model.policy, k), (maps, state, looks, available), handles=handles),
                    focus=count_gflops(model.focus, (frames, frame_ids, centers), handles=handles)), focus)
            parts, focus = by_size[k]
            # the aggregator's step is counted on the state it meets at step t: a state that
            # keeps every step's features (GFNet's per-length heads) costs more each step
            step = MethodCall(model.aggregator, 'step')
            costs['steps'].append(dict(parts, aggregator_step=count_gflops(step, (state, pooled[:, :k], focus),
                                                                           handles=handles)))
            state, _ = model.aggregator.step(state, pooled[:, :k], focus)
        return costs
    finally:
        for m, mode in modes.items():
            m.training = mode
        model.generator.set_state(generator_state)


def glance_focus_step_costs(model, handles: dict | None = None) -> list[float]:
    """GFLOPs per clip of each step: the glance (exit 0), then each focus step's parts summed."""
    c = glance_focus_costs(model, handles)
    return [c['glance'] + c['aggregator_init']] + [sum(step.values()) for step in c['steps']]


@torch.no_grad()
def static_tsm_cost(model) -> float:
    """GFLOPs of one clip through a :class:`~gfvideo.models.static_tsm.StaticTSM`."""
    s = model.input_size
    frames = torch.zeros(1, model.num_frames, 3, s, s, device=_device(model))
    return count_gflops(model, (frames,))


def model_exit_costs(model) -> list[float]:
    """GFLOPs per clip at each exit of a recognizer (a static model has one); counted once and cached."""
    return model.exit_costs()
