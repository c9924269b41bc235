# Glance and focus (MobileNetV2@96 glance, ResNet-50 focus on 128x128 patches) on Kinetics-400.
_base_ = ['../_base_/models/gf_mbv2_r50.py', '../_base_/datasets/kinetics400.py', '../_base_/schedules/sgd_100e.py',
          '../_base_/default_runtime.py']

model = dict(num_classes=400)
