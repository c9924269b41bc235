# As gf_mbv2_r50_p128_sthv2.py, with 160x160 focus patches.
_base_ = ['./gf_mbv2_r50_p128_sthv2.py']

model = dict(focus=dict(patch=160))
