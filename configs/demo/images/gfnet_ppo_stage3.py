# Stage 3 of 3: fine-tune the networks and the GRU with the learned policy fixed
# (deterministic: mean centres), from stage 2's newest checkpoint.
_base_ = ['./gfnet_ppo_stage2.py']

model = dict(frozen=['policy'], objective=dict(_delete_=True, type='SupervisedExits'))
load_from = 'work_dirs/gfnet_ppo_stage2'
optim_wrapper = dict(_delete_=True, optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-2),
                     clip_grad=dict(max_norm=20))
model_wrapper_cfg = dict(_delete_=True, type='MMDistributedDataParallel', find_unused_parameters=True)
max_epochs = 4
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=1e-5)]
