# Glance and focus with the other backbone families: MobileNetV3-Large-TSM glance on 96x96
# frames, EfficientNet-B0-TSM focus on 128x128 patches, on Something-Something V2.
# ImageNet initialisation: model.glance.pretrained=/path/mobilenet_v3_large-8738ca79.pth
#                          model.focus.pretrained=/path/efficientnet_b0_rwightman-7f5810bc.pth
_base_ = ['./gf_mbv2_r50_p128_sthv2.py']

model = dict(glance=dict(backbone='mobilenet_v3_large'), focus=dict(backbone='efficientnet_b0'))
