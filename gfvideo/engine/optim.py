"""One optimizer per part of a glance-and-focus model: ``backbones``, ``aggregator``, ``policy``.

GFNet trains its parts in stages with their own optimizers (the policy with Adam at 3e-4,
the networks with SGD). In a config::

    optim_wrapper = dict(
        constructor='GlanceFocusOptimWrapperConstructor',
        policy=dict(optimizer=dict(type='Adam', lr=3e-4)))

builds an ``OptimWrapperDict`` with one ``OptimWrapper`` per named group (each entry is a
normal mmengine optim-wrapper config: ``type``, ``optimizer``, ``clip_grad``,
``paramwise_cfg``). Groups: ``backbones`` = glance + focus networks and the focus-only
head, ``aggregator``, ``policy``. A group whose parts are all frozen
(``model.frozen``) is refused: it would train nothing.
"""
from __future__ import annotations

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from torch import nn

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS

GROUPS = {'backbones': ('glance', 'focus', 'focus_head'), 'aggregator': ('aggregator',), 'policy': ('policy',)}


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GlanceFocusOptimWrapperConstructor:
    """Build an ``OptimWrapperDict`` over the groups a config names (see the module docstring)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        unknown = sorted(set(optim_wrapper_cfg) - set(GROUPS))
        if unknown or not optim_wrapper_cfg:
            raise ValueError(f'optim_wrapper: groups must be among {sorted(GROUPS)}, got {sorted(optim_wrapper_cfg)}')
        if paramwise_cfg:
            raise ValueError('optim_wrapper: put paramwise_cfg inside a group')
        self.cfg = {name: dict(cfg) for name, cfg in optim_wrapper_cfg.items()}

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = getattr(model, 'module', model)
        parts = model.parts()
        wrappers = {}
        for name, cfg in self.cfg.items():
            group = nn.ModuleDict({p: parts[p] for p in GROUPS[name]})
            if not any(p.requires_grad for p in group.parameters()):
                raise ValueError(f'optim_wrapper.{name}: every part of it ({", ".join(GROUPS[name])}) is in '
                                 f'model.frozen, so it would train nothing')
            cfg.setdefault('type', 'OptimWrapper')
            paramwise = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(cfg, paramwise)(group)
        return OptimWrapperDict(**wrappers)
