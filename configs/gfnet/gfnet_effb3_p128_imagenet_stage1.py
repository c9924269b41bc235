# GFNet-EfficientNet-B3 at 300, patch 128, T = 4 on ImageNet, GFNet's stage 1 of 3: glance, focus and classifier
# with patches at random places; then gfnet_effb3_p128_imagenet_stage2.py (the policy by PPO)
# and gfnet_effb3_p128_imagenet_stage3.py (fine-tuning with it fixed):
#   python tools/train.py configs/gfnet/gfnet_effb3_p128_imagenet_stage1.py
_base_ = ['../_base_/models/gfnet_efficientnet.py', '../_base_/datasets/imagenet.py', '../_base_/default_runtime.py']

model = dict(input_size=300, glance=dict(backbone='efficientnet_b3'), focus=dict(backbone='efficientnet_b3'))
input_size, crop_pct = 300, 0.904
train_pipeline = [dict(type='RandomResizedCrop', size=input_size), dict(type='Flip'), dict(type='FormatShape')]
test_pipeline = [dict(type='ResizeCenterCrop', size=input_size, crop_pct=crop_pct), dict(type='FormatShape')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
