# TSM's Kinetics-400 recipe: SGD, lr 0.01 for a total batch of 64, weight decay 1e-4,
# 100 epochs, lr x0.1 at epochs 40 and 80, gradient norm clipped at 20.
_base_ = ['./sgd_50e.py']
max_epochs = 100
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
param_scheduler = [dict(type='MultiStepLR', milestones=[40, 80], gamma=0.1, by_epoch=True, end=max_epochs)]
