# Stage 3: fine-tune the networks with the learned policy fixed (configs/_base_/policy/ppo_stages.py).
_base_ = ['./gf_mbv2_r50_p128_sthv2_ppo_stage2.py']

model = {{_base_.ppo_stage3_model}}
optim_wrapper = {{_base_.ppo_stage3_optim_wrapper}}
model_wrapper_cfg = {{_base_.ppo_stage3_wrapper}}
param_scheduler = {{_base_.ppo_stage3_scheduler}}
load_from = 'work_dirs/gf_mbv2_r50_p128_sthv2_ppo_stage2'
