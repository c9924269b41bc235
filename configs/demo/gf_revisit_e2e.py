# GFNet-style sequential focus on video, on the demo data, trained end to end in one stage:
# 3 focus steps, each looking at all 4 frames again at new places (placed from the state
# after the previous steps). Patches of 26 px, 12 looks, chosen so that a clip costs what
# the one-look config's 4 looks of 48 px cost (configs/demo/glance_focus_e2e.py): measured
# (model.exit_costs()) 0.0113 / 0.0213 / 0.0313 / 0.0413 GFLOPs per exit against
# 0.0113 / 0.0258 / 0.0404. Everything else as in the one-look config.
_base_ = ['./glance_focus_e2e.py']

model = dict(focus=dict(patch=26), frames_per_step=4, revisit=True, num_steps=3)
