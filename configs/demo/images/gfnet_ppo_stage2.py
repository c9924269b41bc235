# Stage 2 of 3: the policy alone, by PPO (as configs/demo/gf_ppo_stage2.py), on stage 1's
# frozen networks (load_from its work dir: its newest checkpoint).
_base_ = ['./gfnet_ppo_stage1.py']

model = dict(
    policy=dict(_delete_=True, type='ppo', hidden=32, std=0.25),
    frozen=['glance', 'focus', 'aggregator', 'focus_head'],
    objective=dict(_delete_=True, type='PPO', gamma=0.7, clip=0.2, epochs=1, value_coef=0.5, entropy_coef=0.01))
load_from = 'work_dirs/gfnet_ppo_stage1'

optim_wrapper = dict(_delete_=True, constructor='GlanceFocusOptimWrapperConstructor',
                     policy=dict(optimizer=dict(type='Adam', lr=1e-3)))
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
max_epochs = 6
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='ConstantLR', factor=1.0, end=max_epochs, by_epoch=True)]
