# Stage 2 of 3: GFNet's policy alone, by PPO, on stage 1's frozen networks
# (configs/_base_/schedules/gfnet_stages.py), from stage 1's newest checkpoint.
_base_ = ['./gfnet_mbv3_p96_imagenet_stage1.py']

model = dict(policy={{_base_.gfnet_policy}}, frozen={{_base_.gfnet_stage2_frozen}},
             objective={{_base_.gfnet_stage2_objective}})
optim_wrapper = {{_base_.gfnet_stage2_optim_wrapper}}
model_wrapper_cfg = {{_base_.gfnet_stage2_wrapper}}
train_cfg = {{_base_.gfnet_stage2_train_cfg}}
param_scheduler = {{_base_.gfnet_stage2_scheduler}}
load_from = 'work_dirs/gfnet_mbv3_p96_imagenet_stage1'
