# GFNet's three stages at full size, stage 1: glance, focus and aggregator with random patches.
# Then gf_mbv2_r50_p128_sthv2_ppo_stage2.py (the policy by PPO) and gf_mbv2_r50_p128_sthv2_ppo_stage3.py (fine-tuning with it).
_base_ = ['./gf_mbv2_r50_p128_sthv2.py']

model = dict(policy=dict(_delete_=True, type='random'), objective=dict(_delete_=True, type='SupervisedExits'))
