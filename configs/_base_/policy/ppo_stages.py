# GFNet's stages 2 and 3 at full size, as variables the per-dataset stage configs apply:
#   model = {{_base_.ppo_stage2_model}}, optim_wrapper = {{_base_.ppo_stage2_optim_wrapper}}, ...
# Stage 2: the policy alone by PPO with GFNet's settings (Adam 3e-4, gamma 0.7, clip 0.2,
# 1 PPO epoch, value 0.5, entropy 0.01; centre std 0.1), on stage 1's frozen networks.
ppo_stage2_model = dict(
    policy=dict(_delete_=True, type='ppo', hidden=256, std=0.1),
    frozen=['glance', 'focus', 'aggregator', 'focus_head'],
    objective=dict(_delete_=True, type='PPO', gamma=0.7, clip=0.2, epochs=1, value_coef=0.5, entropy_coef=0.01))
ppo_stage2_optim_wrapper = dict(_delete_=True, constructor='GlanceFocusOptimWrapperConstructor',
                                policy=dict(optimizer=dict(type='Adam', lr=3e-4)))
ppo_stage2_wrapper = dict(type='MMSeparateDistributedDataParallel')
# Stage 3: fine-tune glance, focus and aggregator with the learned policy fixed.
ppo_stage3_model = dict(frozen=['policy'], objective=dict(_delete_=True, type='SupervisedExits'))
ppo_stage3_optim_wrapper = dict(_delete_=True, optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4),
                                clip_grad=dict(max_norm=20))
ppo_stage3_wrapper = dict(_delete_=True, type='MMDistributedDataParallel', find_unused_parameters=True)
ppo_epochs = 10
ppo_train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=ppo_epochs, val_interval=1)
ppo_stage2_scheduler = [dict(type='ConstantLR', factor=1.0, end=ppo_epochs, by_epoch=True)]
ppo_stage3_scheduler = [dict(type='CosineAnnealingLR', T_max=ppo_epochs, end=ppo_epochs, by_epoch=True, eta_min=0)]
