# Stage 3 of 3: fine-tune the networks and the classifier with the learned policy fixed
# (its mean: deterministic), from stage 2's newest checkpoint.
_base_ = ['./gfnet_r50_p128_imagenet_stage2.py']

model = dict(frozen={{_base_.gfnet_stage3_frozen}}, objective={{_base_.gfnet_supervised}})
optim_wrapper = {{_base_.gfnet_stage3_optim_wrapper}}
model_wrapper_cfg = {{_base_.gfnet_stage3_wrapper}}
train_cfg = {{_base_.gfnet_stage3_train_cfg}}
param_scheduler = {{_base_.gfnet_stage3_scheduler}}
load_from = 'work_dirs/gfnet_r50_p128_imagenet_stage2'
