# Static TSM-R50, 8 frames at 224 (the baseline). ImageNet initialisation from a local
# torchvision file: --cfg-options model.backbone.pretrained=/path/to/resnet50-0676ba61.pth
model = dict(
    type='StaticTSM', num_classes=174, num_frames=8, input_size=224,
    backbone=dict(backbone='resnet50', pretrained=None),
    dropout=0.5)
