# The built-in image demo dataset (data_prep/make_demo_dataset.py --images): PNG files in class
# folders per split (ImageNet's train layout), read by ImageDataset as 1-frame clips.
# To use another copy: --cfg-options with each dataloader's dataset.data_prefix / class_names_file.
data_root = 'data/demo_images'
input_size = 128
data_seed = 0

# Training: a horizontal flip only (it swaps diagonal and anti-diagonal stripes: the label map,
# by class name). No RandomResizedCrop: rescaling moves the textures off the 4-px grid, so the
# glance would see them. Test: short side to input_size, centre crop (crop_pct=1: a demo image,
# already 128x128, stays bit-identical; tools/infer.py on an image of another size gets what the
# model was trained on).
train_pipeline = [dict(type='Flip', flip_label_map={'anti_diagonal_stripes': 'diagonal_stripes',
                                                    'diagonal_stripes': 'anti_diagonal_stripes'}),
                  dict(type='FormatShape')]
test_pipeline = [dict(type='ResizeCenterCrop', size=input_size, crop_pct=1.0), dict(type='FormatShape')]

_dataset = dict(type='ImageDataset', layout='folders', class_names_file=data_root + '/classes.txt',
                seed=data_seed)

# PNG decoding of 128x128 images is cheap next to the models: no loader processes.
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    sampler=dict(type='EpochSampler', shuffle=True),
    collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, data_prefix=data_root + '/train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    sampler=dict(type='EpochSampler', shuffle=False),
    collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, data_prefix=data_root + '/val', pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(val_dataloader,
                       dataset=dict(_dataset, data_prefix=data_root + '/test', pipeline=test_pipeline,
                                    test_mode=True))
val_evaluator = dict(type='ClipMetric')
test_evaluator = val_evaluator
