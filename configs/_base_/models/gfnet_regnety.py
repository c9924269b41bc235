# GFNet-RegNetY-800MF on ImageNet (GFNet-Pytorch's regnety_800m, patch 96, T = 5): the GRU (1024)
# classifier of GFNet-ResNet-50, a bilinear glance resize, and the conv policy encoder (1x1 conv
# to 32, linear to 256, GRU 256). The other released sizes:
#   --cfg-options model.glance.backbone=regnet_y_600mf model.focus.backbone=regnet_y_600mf
#   (or regnet_y_1_6gf); the feature widths follow the backbone.
# GFNet's regnet train_configuration: backbone lr 0.02, weight decay 5e-5, 60 epochs.
_base_ = ['./gfnet_resnet50.py']

model = dict(
    glance=dict(backbone='regnet_y_800mf', resize=dict(mode='bilinear')),
    focus=dict(backbone='regnet_y_800mf'))
gfnet_policy = dict(encoder='conv', hidden=256)
_sgd = dict(type='SGD', lr=0.02, momentum=0.9, nesterov=True, weight_decay=5e-5)
optim_wrapper = dict(optimizer=_sgd, paramwise_cfg=dict(custom_keys=dict(aggregator=dict(lr_mult=5.0))))
gfnet_stage3_optim_wrapper = dict(optimizer=_sgd, paramwise_cfg=dict(custom_keys=dict(aggregator=dict(lr_mult=0.5))))
