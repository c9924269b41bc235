# Glance and focus, end to end (AdaFocusV2-style): MobileNetV2-TSM glance on 96x96 frames,
# ResNet-50-TSM focus on 128x128 patches of the 224x224 frames, 8 frames in 2 focus steps of 4,
# exits after the glance and after each step. ImageNet initialisation from local torchvision
# files: --cfg-options model.glance.pretrained=/path/mobilenet_v2-b0353104.pth
#                       model.focus.pretrained=/path/resnet50-0676ba61.pth
model = dict(
    type='GlanceFocusRecognizer', num_classes=174, num_frames=8, input_size=224,
    glance=dict(backbone='mobilenet_v2', size=96, pretrained=None),
    focus=dict(backbone='resnet50', patch=128, pretrained=None),
    # Centres learn from the regression onto random patches' outcomes, not the crop's
    # gradient (see configs/demo/glance_focus_e2e.py; validated on the demo data only).
    policy=dict(type='learned', hidden=256, temperature=0.1, crop_grad_scale=0.0),
    frames_per_step=4,
    aggregator=dict(type='gru', hidden=1024),
    objective=dict(type='SupervisedExits', focus_branch='random', weights=dict(policy=1.0)))
