# Glance and focus (MobileNetV2@96 glance, ResNet-50 focus on 128x128 patches) on Something-Something V1.
_base_ = ['../_base_/models/gf_mbv2_r50.py', '../_base_/datasets/sthv1.py', '../_base_/schedules/sgd_50e.py',
          '../_base_/default_runtime.py']

model = dict(num_classes=174)
