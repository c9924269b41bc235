# Kinetics-400 (400 classes) from the lists data_prep/build_lists.py kinetics400 writes:
# data/k400/{train,val}.txt ("path label", relative to data/k400, which holds videos_train and videos_val:
# build_lists.py kinetics400 --train-root data/k400/videos_train --val-root data/k400/videos_val --out data/k400).
# For a copy elsewhere, set each dataloader's dataset.ann_file / data_prefix / class_names_file
# with --cfg-options (data_root is resolved when the config loads; see the README).
data_root = 'data/k400'
videos = data_root
num_frames = 8
input_size = 224

# TSM's recipe, with horizontal flips (Kinetics labels don't depend on left and right).
train_pipeline = [
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=input_size, scales=(1, 0.875, 0.75, 0.66)),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape'),
]
test_pipeline = [
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', size=input_size),
    dict(type='FormatShape'),
]
_dataset = dict(type='VideoDataset', ann_format='list', data_prefix=videos, num_segments=num_frames,
                class_names_file=data_root + '/classes.txt')
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=False,
    sampler=dict(type='EpochSampler', shuffle=True), collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, ann_file=data_root + '/train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=False,
    sampler=dict(type='EpochSampler', shuffle=False), collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, ann_file=data_root + '/val.txt', pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClipMetric')
test_evaluator = val_evaluator
