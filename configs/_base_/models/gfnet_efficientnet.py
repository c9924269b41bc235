# GFNet-EfficientNet-B2 on ImageNet (GFNet-Pytorch's efficientnet_b2, patch 128, T = 4): 260 x 260
# images (crop_pct 0.875), the glance on the whole image resized to 128 (bicubic), 3 patches of
# 128 px, the per-length classifier of GFNet-MobileNetV3 on the 1408-d features, dropout 0.3; the
# conv policy encoder. GFNet freezes the glance network and trains 30 epochs at backbone lr 0.005,
# deep supervision 5. B3 (300 px, crop_pct 0.904): configs/gfnet/gfnet_effb3_p128_imagenet_stage1.py.
_base_ = ['./gfnet_mobilenetv3.py']

_net = dict(_delete_=True, backbone='efficientnet_b2', pretrained=None)
model = dict(
    input_size=260,
    glance=dict(_net, size=128, feature_stage=4, min_cells=1,
                resize=dict(mode='bicubic', align_corners=True, antialias=False)),
    focus=dict(_net, patch=128, rounding='floor'),
    num_steps=3, aggregator=dict(dropout=0.3))
gfnet_policy = dict(map_size=4)

epochs = 30
train_cfg = dict(max_epochs=epochs)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, end=epochs, by_epoch=True, eta_min=0)]
gfnet_stage3_train_cfg = dict(max_epochs=epochs)
gfnet_stage3_scheduler = param_scheduler
