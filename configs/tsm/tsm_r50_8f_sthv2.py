# Static TSM-R50, 8 frames at 224, on Something-Something V2.
_base_ = ['../_base_/models/tsm_r50.py', '../_base_/datasets/sthv2.py', '../_base_/schedules/sgd_50e.py',
          '../_base_/default_runtime.py']

model = dict(num_classes=174)
