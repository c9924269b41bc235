# GFNet-MobileNetV3-Large, patch 128, T = 3 on ImageNet, GFNet's stage 1 of 3: glance, focus and classifier
# with patches at random places; then gfnet_mbv3_p128_imagenet_stage2.py (the policy by PPO)
# and gfnet_mbv3_p128_imagenet_stage3.py (fine-tuning with it fixed):
#   python tools/train.py configs/gfnet/gfnet_mbv3_p128_imagenet_stage1.py
_base_ = ['../_base_/models/gfnet_mobilenetv3.py', '../_base_/datasets/imagenet.py', '../_base_/default_runtime.py']

model = dict(glance=dict(size=128), focus=dict(patch=128))
gfnet_policy = dict(map_size=4)
