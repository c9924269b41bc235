# GFNet-style sequential focus on video, on the demo data, trained end to end in one stage:
# 2 focus steps, each looking at all 4 frames again at new places (placed from the state
# after the previous step). Patches of 34 px: 8 looks of 34x34 cost what the one-look
# config's 4 looks of 48x48 cost (configs/demo/glance_focus_e2e.py), so the two compare at
# equal GFLOPs. Everything else as in the one-look config.
_base_ = ['./glance_focus_e2e.py']

model = dict(focus=dict(patch=34), frames_per_step=4, revisit=True, num_steps=2)
