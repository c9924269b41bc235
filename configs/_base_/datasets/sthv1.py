# Something-Something V1 (174 classes, JPEG frames) from the lists data_prep/build_lists.py sthv1 writes:
# data/sthv1/{train,val}.txt ("frame_dir num_frames label") and classes.txt (in the --class-order you chose).
# For a copy elsewhere, set each dataloader's dataset.ann_file / data_prefix / class_names_file
# with --cfg-options (data_root is resolved when the config loads; see the README).
data_root = 'data/sthv1'
videos = '20bn-something-something-v1'
num_frames = 8
input_size = 224

# TSM's recipe; no horizontal flip on Something-Something (left/right labels, as TSM-official).
# mmaction2 flips and swaps the left/right classes: add, after the crop,
#   dict(type='Flip', flip_ratio=0.5, flip_label_map='something')
# (the pairs by class name, so right under either class order).
train_pipeline = [
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=input_size, scales=(1, 0.875, 0.75, 0.66)),
    dict(type='FormatShape'),
]
test_pipeline = [
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', size=input_size),
    dict(type='FormatShape'),
]
# Multi-view testing (TSM's 2 clips x 3 crops): views' probabilities are averaged.
multi_view_test_pipeline = [
    dict(type='Resize', scale=(-1, input_size)),
    dict(type='ThreeCrop', size=input_size),
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
