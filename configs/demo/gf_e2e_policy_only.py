# The end-to-end policy (soft-argmax centres, learned by gradient descent) trained alone
# on stage 1's frozen networks: the end-to-end counterpart of gf_ppo_stage2.py, so the two
# training modes can be compared on the same backbones (benchmarks/policy_ablation.py).
_base_ = ['./gf_ppo_stage1.py']

model = dict(
    # The centres learn from the regression onto random patches' outcomes alone: the
    # crop's own gradient into them (crop_grad_scale=1, AdaFocusV2) pulled the score maps
    # away from the object on the demo (75.3% top-1 against 89.0% without it, seed 0).
    policy=dict(_delete_=True, type='learned', hidden=32, temperature=0.1, crop_grad_scale=0.0),
    frozen=['glance', 'focus', 'aggregator', 'focus_head'],
    objective=dict(_delete_=True, type='SupervisedExits', focus_branch='random', weights=dict(policy=1.0)))
load_from = 'work_dirs/gf_ppo_stage1'
optim_wrapper = dict(_delete_=True, optimizer=dict(type='Adam', lr=1e-3))
max_epochs = 6
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='ConstantLR', factor=1.0, end=max_epochs, by_epoch=True)]
