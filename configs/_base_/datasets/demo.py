# The built-in demo dataset (data_prep/make_demo_dataset.py), in Something-Something V2 format.
# To use another copy: --cfg-options with each dataloader's dataset.ann_file / data_prefix / labels_file.
data_root = 'data/demo'
num_frames = 4
input_size = 128
data_seed = 0

# The demo videos are made at the model's size, so training reads them as they are. The test
# pipeline still brings any video to that size (short side, then a centre crop), so
# tools/infer.py on a video of another size shows the model what it was trained on; on the demo
# videos both steps leave the frames bit-identical. A different input_size needs the same
# change here: --cfg-options {val,test}_dataloader.dataset.pipeline.0.scale=S and .1.size=S.
train_pipeline = [dict(type='FormatShape')]
test_pipeline = [dict(type='Resize', scale=(-1, input_size)), dict(type='CenterCrop', size=input_size),
                 dict(type='FormatShape')]

_dataset = dict(type='VideoDataset', ann_format='sthv2', data_prefix=data_root + '/videos',
                labels_file=data_root + '/labels.json', num_segments=num_frames, seed=data_seed)

train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=False,
    sampler=dict(type='EpochSampler', shuffle=True),
    collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, ann_file=data_root + '/train.json', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=False,
    sampler=dict(type='EpochSampler', shuffle=False),
    collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, ann_file=data_root + '/val.json', pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(val_dataloader,
                       dataset=dict(_dataset, ann_file=data_root + '/test.json', pipeline=test_pipeline,
                                    test_mode=True))
val_evaluator = dict(type='ClipMetric')
test_evaluator = val_evaluator
