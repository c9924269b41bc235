# Stage 2 of 3: the policy alone, by PPO (GFNet's actor-critic: Gaussian centres around the
# learned soft-argmax, reward = gain in true-class probability, gamma 0.7, clip 0.2),
# on the frozen networks of stage 1 (load_from its work dir: its newest checkpoint).
_base_ = ['./gf_ppo_stage1.py']

model = dict(
    policy=dict(_delete_=True, type='ppo', hidden=32, std=0.25),
    frozen=['glance', 'focus', 'aggregator', 'focus_head'],
    objective=dict(_delete_=True, type='PPO', gamma=0.7, clip=0.2, epochs=1, value_coef=0.5, entropy_coef=0.01))
load_from = 'work_dirs/gf_ppo_stage1'

# One optimizer per trained part (here the policy only): GFNet's Adam at 3e-4 (x3 for
# the small demo). Each part is its own DDP module under multi-process training.
optim_wrapper = dict(_delete_=True, constructor='GlanceFocusOptimWrapperConstructor',
                     policy=dict(optimizer=dict(type='Adam', lr=1e-3)))
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
max_epochs = 6
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='ConstantLR', factor=1.0, end=max_epochs, by_epoch=True)]
