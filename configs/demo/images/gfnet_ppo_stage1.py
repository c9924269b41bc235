# GFNet on the image demo data by GFNet's three stages, stage 1 of 3: the glance and focus
# networks and the GRU learn with random patch locations (same schedule as gfnet_e2e.py).
#   python tools/train.py configs/demo/images/gfnet_ppo_stage1.py
#   python tools/train.py configs/demo/images/gfnet_ppo_stage2.py   # the policy, by PPO
#   python tools/train.py configs/demo/images/gfnet_ppo_stage3.py   # fine-tune with it fixed
_base_ = ['./gfnet_e2e.py']

model = dict(policy=dict(_delete_=True, type='random'), objective=dict(_delete_=True, type='SupervisedExits'))
