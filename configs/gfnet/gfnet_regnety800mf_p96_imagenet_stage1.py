# GFNet-RegNetY-800MF, patch 96, T = 5 on ImageNet, GFNet's stage 1 of 3: glance, focus and classifier
# with patches at random places; then gfnet_regnety800mf_p96_imagenet_stage2.py (the policy by PPO)
# and gfnet_regnety800mf_p96_imagenet_stage3.py (fine-tuning with it fixed):
#   python tools/train.py configs/gfnet/gfnet_regnety800mf_p96_imagenet_stage1.py
_base_ = ['../_base_/models/gfnet_regnety.py', '../_base_/datasets/imagenet.py', '../_base_/default_runtime.py']
