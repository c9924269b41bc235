# GFNet-ResNet-50 on ImageNet (GFNet-Pytorch's resnet50, patch 96, T = 5): the glance is
# ResNet-50 on the whole 224 image resized to the patch size (bicubic, align_corners=True, no
# antialias: its get_prime); then 4 patches of 96 px from the 224 image, corners floor(a * (S - P));
# a GRU (1024) classifier reads each step's pooled feature. Policy (stages 2 and 3): GFNet's
# recurrent actor-critic on the previous look's last feature map (MLP encoder, GRU 1024, std 0.1).
# ImageNet initialisation from local torchvision files (GFNet starts from ImageNet weights):
#   --cfg-options model.glance.pretrained=/path/resnet50.pth model.focus.pretrained=/path/resnet50.pth
_base_ = ['../schedules/gfnet_stages.py']

dsn_ratio = 1.0             # GFNet's deep supervision weight: gfvideo's focus-only classifier
model = dict(
    type='GlanceFocusRecognizer', num_classes=1000, num_frames=1, input_size=224,
    glance=dict(backbone='resnet50', size=96, feature_stage=4, min_cells=1, pretrained=None,
                resize=dict(mode='bicubic', align_corners=True, antialias=False)),
    focus=dict(backbone='resnet50', patch=96, rounding='floor', pretrained=None),
    policy=dict(type='random'),
    num_steps=4, frames_per_step=1, revisit=True,
    aggregator=dict(type='gfnet_gru', hidden=1024),
    objective=dict(type='SupervisedExits', weights=dict(focus=dsn_ratio)))
# stage 2 puts GFNet's policy in place of the random one (map_size = ceil(patch / 32))
gfnet_policy = dict(_delete_=True, type='gfnet', map_size=3, encoder='mlp', hidden=1024)
gfnet_supervised = dict(_delete_=True, type='SupervisedExits', weights=dict(focus=dsn_ratio))
