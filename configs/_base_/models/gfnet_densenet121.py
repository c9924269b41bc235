# GFNet-DenseNet-121 on ImageNet (GFNet-Pytorch's densenet121, patch 96, T = 5): as GFNet-ResNet-50
# (configs/_base_/models/gfnet_resnet50.py) with DenseNet-121 networks (1024-d features), a bilinear
# glance resize (its prime_interpolation), and the MLP policy encoder; same training numbers.
_base_ = ['./gfnet_resnet50.py']

model = dict(
    glance=dict(backbone='densenet121', resize=dict(mode='bilinear')),
    focus=dict(backbone='densenet121'))
