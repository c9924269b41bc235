# GFNet's three training stages (GFNet-Pytorch train.py / configs.py; docs/references.md), with
# its ResNet numbers; the family bases in configs/_base_/models/gfnet_*.py inherit this file and
# override what differs (GFNet's train_configurations).
#
# Stage 1 (this file's optim_wrapper / train_cfg / param_scheduler): patches at random places;
# one SGD (Nesterov, momentum 0.9, weight decay 1e-4) over the networks and the classifier, the
# classifier (model.aggregator) at its own rate (backbone 0.01, classifier 0.1: lr_mult 10),
# cosine by epoch to 0 over 60 epochs; batch 256 (auto_scale_lr in the dataset base).
epochs = 60
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys=dict(aggregator=dict(lr_mult=10.0))))
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, end=epochs, by_epoch=True, eta_min=0)]

# Stage 2 (the *_stage2.py configs apply these): the policy alone by PPO, the networks frozen:
# Adam 3e-4, 15 epochs, discount 0.7, clip 0.2, one PPO epoch, value loss 0.5, entropy 0.01
# (rewards normalised per batch, as GFNet's PPO.update).
gfnet_stage2_frozen = ['glance', 'focus', 'aggregator', 'focus_head']
gfnet_stage2_objective = dict(_delete_=True, type='PPO', gamma=0.7, clip=0.2, epochs=1, value_coef=0.5,
                              entropy_coef=0.01)
gfnet_stage2_optim_wrapper = dict(_delete_=True, constructor='GlanceFocusOptimWrapperConstructor',
                                  policy=dict(optimizer=dict(type='Adam', lr=3e-4)))
gfnet_stage2_wrapper = dict(type='MMSeparateDistributedDataParallel')
gfnet_stage2_train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=15, val_interval=5)
gfnet_stage2_scheduler = [dict(type='ConstantLR', factor=1.0, end=15, by_epoch=True)]

# Stage 3 (the *_stage3.py configs): fine-tune networks and classifier with the policy fixed,
# as stage 1 but the classifier at 0.01 (lr_mult 1).
gfnet_stage3_frozen = ['policy']
gfnet_stage3_optim_wrapper = dict(_delete_=True, optimizer=optim_wrapper['optimizer'],
                                  paramwise_cfg=dict(custom_keys=dict(aggregator=dict(lr_mult=1.0))))
gfnet_stage3_wrapper = dict(_delete_=True, type='MMDistributedDataParallel', find_unused_parameters=True)
gfnet_stage3_train_cfg = dict(_delete_=True, **train_cfg)
gfnet_stage3_scheduler = param_scheduler
