# As gf_mbv2_r50_p128_sthv1.py, with 96x96 focus patches.
_base_ = ['./gf_mbv2_r50_p128_sthv1.py']

model = dict(focus=dict(patch=96))
