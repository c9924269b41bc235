"""Data: opening clips (ClipSource), frame sampling, annotations, transforms, the clip and image
datasets and the sampler.

Importing this package registers the transforms, ``VideoDataset``, ``ImageDataset``, ``EpochSampler``
and ``collate_clips`` in gfvideo's registries.
"""
from .annotations import (AnnotationError, VideoRecord, find_missing, load_class_folders,
                          load_class_names, load_kinetics400, load_list_file, load_sthv1,
                          load_sthv2, resolve_class_names, write_class_names)
from .datasets import VideoDataset, collate_clips, dataset_config
from .decoding import (ClipSource, DecodeError, count_frame_folder, probe_num_frames, read_clip,
                       read_frame_folder, read_frames)
from .encoding import write_video
from .epoch_sampler import EpochSampler
from .sampling import clip_rng, dense_indices, segment_indices
from .images import ImageDataset, load_images
from .image_transforms import RandomResizedCrop, ResizeCenterCrop
from .flip import SOMETHING_FLIP_PAIRS, Flip, flip_map_names, flip_pairs_to_map
from .transforms import (CenterCrop, Compose, FormatShape, MultiScaleCrop, RandomCrop, Resize,
                         ThreeCrop, build_pipeline, resize_clip)

__all__ = [
    'AnnotationError', 'VideoRecord', 'find_missing', 'load_class_folders', 'load_class_names',
    'load_kinetics400', 'load_list_file', 'load_sthv1', 'load_sthv2', 'resolve_class_names',
    'write_class_names', 'VideoDataset', 'collate_clips', 'dataset_config', 'ClipSource',
    'DecodeError', 'count_frame_folder',
    'probe_num_frames', 'read_clip', 'read_frame_folder', 'read_frames', 'write_video',
    'EpochSampler', 'clip_rng', 'dense_indices', 'segment_indices', 'CenterCrop', 'Compose',
    'Flip', 'FormatShape', 'MultiScaleCrop', 'RandomCrop', 'Resize', 'build_pipeline',
    'resize_clip', 'ThreeCrop', 'SOMETHING_FLIP_PAIRS', 'flip_map_names', 'flip_pairs_to_map',
    'ImageDataset', 'load_images', 'RandomResizedCrop', 'ResizeCenterCrop',
]
