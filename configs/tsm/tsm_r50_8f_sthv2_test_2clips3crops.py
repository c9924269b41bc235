# Static TSM-R50 on Something-Something V2, tested as TSM-official's "2 clips x 3 crops":
# twice-sampled segments and three 224 crops along the longer side, probabilities averaged.
#   python tools/test.py configs/tsm/tsm_r50_8f_sthv2_test_2clips3crops.py CKPT
_base_ = ['./tsm_r50_8f_sthv2.py']

test_dataloader = dict(
    batch_size=2,
    dataset=dict(pipeline={{_base_.multi_view_test_pipeline}}, twice_sample=True))
