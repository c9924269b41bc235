# ImageNet (ILSVRC-2012, 1000 classes) as GFNet trains on it: data/imagenet/train/<wnid>/*.JPEG and
# data/imagenet/val/<wnid>/*.JPEG (class folders; the class index is the sorted wnids). A flat val
# folder: --cfg-options with the val/test dataset's layout='loc_csv', ann_file=.../LOC_val_solution.csv
# (or layout='devkit' with the devkit's ground truth). data_prep/build_lists.py images checks a copy.
# Images are 1-frame clips. Batch: 256 in all (GFNet's), 32 per GPU on 8 GPUs; with another total
# batch, --cfg-options auto_scale_lr.enable=True.
data_root = 'data/imagenet'
input_size = 224
crop_pct = 0.875            # test: short side to 256, central 224

# GFNet's recipe: RandomResizedCrop + flip in training, resize + centre crop at test (bilinear;
# GFNet's EfficientNet recipe resizes bicubically with PIL: gfvideo resizes with OpenCV, bilinear).
train_pipeline = [dict(type='RandomResizedCrop', size=input_size), dict(type='Flip'), dict(type='FormatShape')]
test_pipeline = [dict(type='ResizeCenterCrop', size=input_size, crop_pct=crop_pct), dict(type='FormatShape')]

_dataset = dict(type='ImageDataset', layout='folders')
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True,
    sampler=dict(type='EpochSampler', shuffle=True), collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, data_prefix=data_root + '/train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=8, persistent_workers=True,
    sampler=dict(type='EpochSampler', shuffle=False), collate_fn=dict(type='collate_clips'),
    dataset=dict(_dataset, data_prefix=data_root + '/val', pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClipMetric')
test_evaluator = val_evaluator
auto_scale_lr = dict(enable=False, base_batch_size=256)
