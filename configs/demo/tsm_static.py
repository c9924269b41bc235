# The static TSM baseline on the demo data: tiny ResNet-18-TSM on the full 128x128 frames.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/demo.py',
          '../_base_/schedules/demo_adamw.py']

model = dict(
    type='StaticTSM',
    num_classes=12, num_frames=4, input_size=128,
    backbone=dict(backbone='resnet18', width=16),
    dropout=0.5,
)

# The static model sees everything at full resolution and learns the demo task in 4 epochs.
max_epochs = 4
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=1e-5)]
