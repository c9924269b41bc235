# GFNet-style training on the demo data, stage 1 of 3: glance and focus networks and the
# aggregator learn with random patch locations (the policy has nothing to learn from yet).
#   python tools/train.py configs/demo/gf_ppo_stage1.py
#   python tools/train.py configs/demo/gf_ppo_stage2.py   # the policy, by PPO
#   python tools/train.py configs/demo/gf_ppo_stage3.py   # fine-tune with the learned policy
_base_ = ['./glance_focus_e2e.py']

model = dict(policy=dict(_delete_=True, type='random'), objective=dict(_delete_=True, type='SupervisedExits'))
