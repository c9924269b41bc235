# Stage 2: the policy alone by PPO with GFNet's settings (Adam 3e-4, gamma 0.7, clip 0.2,
# 1 PPO epoch, value 0.5, entropy 0.01; centre std 0.1), on stage 1's frozen networks.
_base_ = ['./gf_mbv2_r50_p128_kinetics400_ppo_stage1.py']

model = dict(
    locator=dict(_delete_=True, type='ppo', hidden=256, std=0.1),
    frozen=['glance', 'focus', 'aggregator', 'focus_head'],
    ppo=dict(gamma=0.7, clip=0.2, epochs=1, value_coef=0.5, entropy_coef=0.01))
load_from = 'work_dirs/gf_mbv2_r50_p128_kinetics400_ppo_stage1'
optim_wrapper = dict(_delete_=True, constructor='GlanceFocusOptimWrapperConstructor',
                     policy=dict(optimizer=dict(type='Adam', lr=3e-4)))
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
max_epochs = 10
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, end=max_epochs, by_epoch=True)]
