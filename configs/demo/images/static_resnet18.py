# The static baseline on the image demo data: the focus network (tiny ResNet-18, width 16) on
# the whole 128x128 image (StaticTSM with one frame, built without the temporal shift).
_base_ = ['../../_base_/default_runtime.py', '../../_base_/datasets/demo_images.py',
          '../../_base_/schedules/demo_adamw.py']

model = dict(
    type='StaticTSM',
    num_classes=5, num_frames=1, input_size=128,
    backbone=dict(backbone='resnet18', width=16, shift=False),
    dropout=0.5,
)

max_epochs = 4
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=1e-5)]
