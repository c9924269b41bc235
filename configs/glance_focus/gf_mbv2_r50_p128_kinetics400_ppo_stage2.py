# Stage 2 of GFNet's training: the policy alone by PPO (configs/_base_/policy/ppo_stages.py).
_base_ = ['./gf_mbv2_r50_p128_kinetics400_ppo_stage1.py', '../_base_/policy/ppo_stages.py']

model = {{_base_.ppo_stage2_model}}
optim_wrapper = {{_base_.ppo_stage2_optim_wrapper}}
model_wrapper_cfg = {{_base_.ppo_stage2_wrapper}}
train_cfg = {{_base_.ppo_train_cfg}}
param_scheduler = {{_base_.ppo_stage2_scheduler}}
load_from = 'work_dirs/gf_mbv2_r50_p128_kinetics400_ppo_stage1'
