# GFNet-style sequential focus on video, on the demo data, trained end to end in one stage:
# 2 focus steps, each looking at all 4 frames again at new places (placed from the state
# after the previous step). Patches of 34 px, 8 looks: meant to match the pixels of the
# one-look config's 4 looks of 48 px (configs/demo/glance_focus_e2e.py), but measured it
# costs more: 0.0563 GFLOPs per clip against 0.0404 (the backbone's stages round small
# maps up, and each look pays the policy and aggregator). Everything else as in the
# one-look config.
_base_ = ['./glance_focus_e2e.py']

model = dict(focus=dict(patch=34), frames_per_step=4, revisit=True, num_steps=2)
