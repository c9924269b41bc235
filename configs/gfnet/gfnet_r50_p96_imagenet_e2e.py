# The GFNet-ResNet-50 setup of gfnet_r50_p96_imagenet_stage1.py trained end to end in one stage, gfvideo's
# way: the glance-map policy ('learned', as configs/demo/images/gfnet_e2e.py) places each patch
# from the glance's stage-3 map (6 x 6 at 96 px) and the classifier's state, and learns from how
# well random patches there told the class; GFNet's stage-1 optimiser and schedule.
#   python tools/train.py configs/gfnet/gfnet_r50_p96_imagenet_e2e.py
_base_ = ['./gfnet_r50_p96_imagenet_stage1.py']

model = dict(
    glance=dict(feature_stage=3),
    policy=dict(_delete_=True, type='learned', hidden=256, temperature=0.1, crop_grad_scale=0.0),
    objective=dict(_delete_=True, type='SupervisedExits', focus_branch='random',
                   weights=dict(policy=1.0, focus={{_base_.dsn_ratio}})))
