# Static TSM-R50, 8 frames at 224 (the baseline): 400 classes. ImageNet initialisation from a local
# torchvision file: --cfg-options model.backbone.pretrained=/path/to/resnet50-0676ba61.pth
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/kinetics400.py', '../_base_/schedules/sgd_100e.py']

model = dict(
    type='StaticTSM', num_classes=400, num_frames=8, input_size=224,
    backbone=dict(backbone='resnet50', pretrained=None),
    dropout=0.5)
