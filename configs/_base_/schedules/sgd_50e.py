# TSM's Something-Something recipe: SGD, lr 0.01 for a total batch of 64 (8 GPUs x 8 clips),
# weight decay 5e-4, 50 epochs, lr x0.1 at epochs 20 and 40, gradient norm clipped at 20.
max_epochs = 50
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
                     clip_grad=dict(max_norm=20))
param_scheduler = [dict(type='MultiStepLR', milestones=[20, 40], gamma=0.1, by_epoch=True, end=max_epochs)]
# With another number of GPUs or clips per GPU: --cfg-options auto_scale_lr.enable=True
auto_scale_lr = dict(enable=False, base_batch_size=64)
