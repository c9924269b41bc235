# Glance-and-focus on the demo data, trained end to end in one stage (learned policy,
# differentiable crop). Glance: tiny ResNet-18-TSM on 32x32 frames; focus: tiny
# ResNet-18-TSM on 48x48 patches of the 128x128 frames; 4 frames focused in 2 steps of 2.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/demo.py',
          '../_base_/schedules/demo_adamw.py']

model = dict(
    type='GlanceFocusRecognizer',
    num_classes=12, num_frames=4, input_size=128,
    glance=dict(backbone='resnet18', size=32, width=16),
    focus=dict(backbone='resnet18', patch=48, width=16),
    # The centres learn from one signal: the score of the glance cell under each random
    # patch regresses onto how well the model told the class after looking there
    # (objective.weights.policy). The crop's own gradient into the centres is off
    # (crop_grad_scale=0): with it, the sharp soft-argmax (temperature 0.1) dominated the
    # clipped gradient norm and nothing learned (14.7% top-1), and at temperature 1 the
    # centres collapsed to the middle of the frame (70.7%, 28% of patches on the object).
    # This setting: 96.0%, 92% on the object (seed 0, test split).
    policy=dict(type='learned', hidden=32, temperature=0.1, crop_grad_scale=0.0),
    frames_per_step=2,
    aggregator=dict(type='mean', hidden=128),
    objective=dict(type='SupervisedExits', focus_branch='random', weights=dict(policy=1.0)),
)

# 16 epochs: the policy learns once the glance finds the moving object (about epoch 8 here).
max_epochs = 16
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=1e-5)]
