# Static TSM-R50, 8 frames at 224, on Kinetics-400.
_base_ = ['../_base_/models/tsm_r50.py', '../_base_/datasets/kinetics400.py', '../_base_/schedules/sgd_100e.py',
          '../_base_/default_runtime.py']

model = dict(num_classes=400)
