"""From command-line arguments to an mmengine Runner (shared by tools/train.py and tools/test.py)."""
from __future__ import annotations

import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from .resume import pin_checkpoint, pointer_target
from .validation import ConfigError

__all__ = ['Config', 'DictAction', 'build_config', 'build_runner']


def build_config(config: str, *, work_dir: str | None = None, resume: str | None = None,
                 amp: bool = False, cfg_options: dict | None = None, launcher: str = 'none',
                 seed: int | None = None, load_from: str | None = None) -> Config:
    """Load ``config`` and apply the command-line overrides, mmaction2-style.

    ``resume``: ``'auto'`` continues from the newest checkpoint in the work dir, a path
    from that checkpoint. ``amp``: mixed precision through autocast + dynamic loss scaling
    on CUDA; on CPU it is refused with a warning and training stays in float32.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if load_from is not None:
        cfg.load_from = load_from
    if cfg.get('load_from') and not cfg.get('resume'):
        cfg.load_from = resolve_checkpoint(cfg.load_from)
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
        for split in ('train', 'val', 'test'):  # data randomness follows the same seed
            if cfg.get(f'{split}_dataloader'):
                cfg[f'{split}_dataloader'].dataset.seed = seed
    if amp:
        if torch.cuda.is_available():
            groups = ([g for k, g in cfg.optim_wrapper.items() if k != 'constructor']
                      if cfg.optim_wrapper.get('constructor') == 'GlanceFocusOptimWrapperConstructor'
                      else [cfg.optim_wrapper])
            for group in groups:
                group.type = 'AmpOptimWrapper'
                group.setdefault('loss_scale', 'dynamic')
        else:
            print_log('--amp: no CUDA device, so no autocast; training runs in float32 on the CPU',
                      logger='current', level=30)
    if launcher != 'none' and not torch.cuda.is_available():
        # CPU processes: gloo, DDP without device ids, and no SyncBatchNorm (CPU tensors refused)
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel', find_unused_parameters=cfg.get('find_unused_parameters', False))
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
        if cfg.get('sync_bn'):
            print_log('sync_bn is for GPUs (SyncBatchNorm refuses CPU tensors under gloo): each CPU '
                      'process keeps its own batch-norm statistics', logger='current', level=30)
            cfg.sync_bn = None
    return cfg


def resolve_checkpoint(path: str) -> str:
    """A checkpoint path, or a work dir standing for its newest checkpoint (its ``last_checkpoint``
    pointer, see :func:`~gfvideo.engine.resume.pointer_target`), so a training stage can start
    from the previous stage's work dir (``load_from``)."""
    if not osp.isdir(path):
        return path
    target = pointer_target(path)
    if target is None:
        raise ConfigError(f'load_from={path!r} is a directory without a last_checkpoint file: '
                          f'train that stage first, or name a checkpoint file')
    return target


def init_cpu_process_group(cfg: Config) -> None:
    """Join the torchrun process group with gloo when there is no GPU.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` unconditionally; the
    Runner skips it when a process group exists, so on CPU gfvideo creates that group first
    (from torchrun's environment variables).
    """
    import torch.distributed as dist
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available() or dist.is_initialized():
        return
    if cfg.launcher != 'pytorch':
        raise ConfigError(f'--launcher {cfg.launcher} without a GPU: only the pytorch launcher '
                          f'(torchrun) runs on CPU')
    dist.init_process_group(backend='gloo', init_method='env://')


def build_runner(cfg: Config) -> Runner:
    """Build the Runner (``runner_type`` in the config, mmengine's Runner by default).

    The checkpoint it resumes or loads from is chosen and checked here, before any work
    (:func:`~gfvideo.engine.resume.pin_checkpoint`): raises ``CheckpointError`` if unusable.
    """
    init_cpu_process_group(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    pin_checkpoint(runner)
    return runner
