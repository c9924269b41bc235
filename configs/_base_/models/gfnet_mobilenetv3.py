# GFNet-MobileNetV3-Large 1.0 on ImageNet (GFNet-Pytorch's mobilenetv3_large_100, patch 96, T = 3):
# the glance is MobileNetV3 on the whole 224 image resized to the patch size (bicubic,
# align_corners=True, no antialias); 2 patches of 96 px; the classifier concatenates the pooled
# 1280-d features (after MobileNetV3's head) of every step so far into one linear layer per
# length (exit 0: the glance network's own classifier), so later exits cost more. Policy (stages
# 2 and 3): GFNet's actor-critic with its conv encoder (1x1 conv to 32, linear to 256, GRU 256).
# GFNet freezes the glance network (and its classifier) for MobileNetV3 and trains 90 epochs at
# backbone lr 0.005, deep supervision 5. Batch norm eps 1e-5 as gen-efficientnet's (GFNet's files);
# torchvision's ImageNet MobileNetV3 files use 1e-3: set model.glance/focus.bn_eps=1e-3 with them:
#   --cfg-options model.glance.pretrained=/path/mobilenet_v3_large.pth model.glance.bn_eps=0.001 ...
_base_ = ['../schedules/gfnet_stages.py']

dsn_ratio = 5.0
_net = dict(backbone='mobilenet_v3_large', head=True, bn_eps=1e-5, pretrained=None)
model = dict(
    type='GlanceFocusRecognizer', num_classes=1000, num_frames=1, input_size=224,
    glance=dict(_net, size=96, feature_stage=4, min_cells=1,
                resize=dict(mode='bicubic', align_corners=True, antialias=False)),
    focus=dict(_net, patch=96, rounding='floor'),
    policy=dict(type='random'),
    num_steps=2, frames_per_step=1, revisit=True,
    aggregator=dict(type='gfnet_concat', dropout=0.2),
    frozen=['glance'],
    objective=dict(type='SupervisedExits', weights=dict(focus=dsn_ratio)))
gfnet_policy = dict(_delete_=True, type='gfnet', map_size=3, encoder='conv', hidden=256)
gfnet_supervised = dict(_delete_=True, type='SupervisedExits', weights=dict(focus=dsn_ratio))

# GFNet's mobilenetv3 train_configuration: backbone 0.005, classifier 0.1 / 0.01, 90 epochs.
# GFNet's exit 0 is the frozen glance network's own ImageNet classifier; here it is the
# classifier's heads.0, which a torchvision file doesn't fill, so it trains with the classifier.
epochs = 90
_sgd = dict(type='SGD', lr=0.005, momentum=0.9, nesterov=True, weight_decay=1e-4)
optim_wrapper = dict(optimizer=_sgd, paramwise_cfg=dict(custom_keys=dict(aggregator=dict(lr_mult=20.0))))
train_cfg = dict(max_epochs=epochs)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, end=epochs, by_epoch=True, eta_min=0)]
gfnet_stage3_frozen = ['policy', 'glance']
gfnet_stage3_optim_wrapper = dict(optimizer=_sgd, paramwise_cfg=dict(custom_keys=dict(aggregator=dict(lr_mult=2.0))))
gfnet_stage3_train_cfg = dict(max_epochs=epochs)
gfnet_stage3_scheduler = param_scheduler
