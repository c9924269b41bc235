# Glance-and-focus on the demo data, trained end to end (learned locator, differentiable crop).
# Glance: tiny ResNet-18-TSM on 32x32 frames; focus: tiny ResNet-18-TSM on 48x48 patches
# of the 128x128 frames; all 4 frames focused in one step.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/demo.py',
          '../_base_/schedules/demo_adamw.py']

model = dict(
    type='GlanceFocusRecognizer',
    num_classes=12, num_frames=4, input_size=128,
    glance=dict(backbone='resnet18', size=32, width=16),
    focus=dict(backbone='resnet18', patch=48, width=16),
    locator=dict(type='learned', hidden=32),
    frames_per_step=2,
    aggregator=dict(type='mean', hidden=128),
    random_patch_loss=True,
)
# Not here: temperature=0.1 with loss_weights=dict(locator=1.0). Trained jointly from scratch,
# the sharp soft-argmax's gradients dominated the global gradient norm, clipping (max_norm 20)
# shrank every other gradient, and nothing learned (14.7% top-1). On frozen networks
# (gf_e2e_policy_only.py) they are what the end-to-end policy needs.

# 16 epochs: the locator learns once the glance finds the moving object (about epoch 8 here).
max_epochs = 16
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=1e-5)]
