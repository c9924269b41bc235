# Stage 2 of 3 of sequential focus by PPO: the policy alone on stage 1's frozen networks.
_base_ = ['./gf_ppo_stage2.py']

model = dict(focus=dict(patch=26), frames_per_step=4, revisit=True, num_steps=3)
load_from = 'work_dirs/gf_revisit_ppo_stage1'
