# Runtime settings shared by every gfvideo config.
default_scope = 'gfvideo'
custom_imports = dict(imports=['gfvideo.data', 'gfvideo.models', 'gfvideo.engine'],
                      allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, but every checkpoint and the last_checkpoint pointer are written
    # to a temporary file, fsynced and renamed: a kill mid-write leaves the previous one loadable.
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# NonFiniteLossHook: stop at the first NaN/inf loss or gradient, before it reaches a checkpoint
# (finite but large gradients: optim_wrapper.clip_grad, e.g. dict(max_norm=20)).
# RunRecordHook: run_record.json in the work dir (seed, config, versions, git commit, command).
custom_hooks = [dict(type='PlainCheckpointHook'), dict(type='RNGStateHook'), dict(type='SkippedVideoHook'),
                dict(type='NonFiniteLossHook'), dict(type='RunRecordHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
