# Stage 3: fine-tune glance, focus and aggregator with the learned policy fixed.
_base_ = ['./gf_mbv2_r50_p128_sthv1_ppo_stage2.py']

model = dict(frozen=['policy'])
load_from = 'work_dirs/gf_mbv2_r50_p128_sthv1_ppo_stage2'
optim_wrapper = dict(_delete_=True, optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=20))
model_wrapper_cfg = dict(_delete_=True, type='MMDistributedDataParallel', find_unused_parameters=True)
max_epochs = 10
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=0)]
