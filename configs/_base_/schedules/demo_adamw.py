# A short CPU schedule for the demo: AdamW, cosine decay.
max_epochs = 8  # configs that change it restate train_cfg and param_scheduler too
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-2),
                     clip_grad=dict(max_norm=20))
# `end` is explicit so that stopping early (train_cfg.max_epochs=1) doesn't change the schedule.
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=1e-5)]
