# GFNet-style sequential focus on video by PPO, stage 1 of 3: the networks and the
# aggregator learn with random patch locations (3 steps x 4 frames of 26 px, as
# gf_revisit_e2e.py). Then gf_revisit_ppo_stage2.py (the policy by PPO) and _stage3.py.
_base_ = ['./gf_ppo_stage1.py']

model = dict(focus=dict(patch=26), frames_per_step=4, revisit=True, num_steps=3)
