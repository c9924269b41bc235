# The static TSM baseline on the demo data: tiny ResNet-18-TSM on the full 128x128 frames.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/demo.py',
          '../_base_/schedules/demo_adamw.py']

model = dict(
    type='StaticTSM',
    num_classes=12, num_frames=4, input_size=128,
    backbone=dict(backbone='resnet18', width=16),
    dropout=0.5,
)
