"""Single-video inference: a checkpoint, one video file (or image), one prediction with what it cost.

Used by ``tools/infer.py``. A clip is made exactly as the test split makes it: the config's
test dataset (a ``VideoDataset`` in test mode, its annotation files left out; an
``ImageDataset`` for image configs, the image a 1-frame clip) loads the one
video file, frame folder or image, with its sampling (segment centres or a centred dense window,
twice sampling), frame names, backend, test pipeline and seed. The model then runs with
early exit if an exit rule (or plain max-prob thresholds) is given, and the result says
which frames and patches it looked at, step by step, in the clip's slots and in the
video's frame numbers.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from .compute.costs import model_exit_costs
from .compute.exit_scores import ExitRule
from .data.annotations import AnnotationError, resolve_class_names
from .data.datasets import VideoDataset, dataset_config
from .engine.resume import CheckpointError, read_checkpoint
from .engine.validation import check_dataset_fits_model
from .models.base import Recognizer
from .models.fuse import fuse_for_inference
from .registry import DATASETS, MODELS

__all__ = ['InferenceError', 'Clip', 'default_device', 'load_model', 'load_clip', 'predict_clip',
           'analyse_video', 'infer_video', 'draw_focus']


class InferenceError(RuntimeError):
    """A user-facing problem (missing checkpoint, wrong thresholds, no CUDA): no traceback needed."""


@dataclass
class Clip:
    """One test clip of a video: model inputs and where its frames came from.

    ``inputs`` holds ``num_views`` views of the model's N frames, view-major, as the test
    dataset gives them; ``frame_inds`` the sampled video frames (twice sampling samples
    2N; crop views such as ``ThreeCrop`` reuse them), so input slot ``s`` shows video frame
    ``slot_frame_inds[s]``.
    """
    path: str
    inputs: torch.Tensor       # uint8 [V * N, 3, H, W], what the model sees
    frame_inds: np.ndarray     # 0-based video frame of each sampled slot
    num_frames: int            # frames in the video (probed)
    num_views: int = 1         # V: twice sampling x crop views

    @property
    def slot_frame_inds(self) -> np.ndarray:
        """The video frame of every input slot (``[V * N]``)."""
        return np.resize(self.frame_inds, len(self.inputs))


def default_device() -> str:
    """``'cuda'`` when a CUDA device is available, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def _class_names(checkpoint: dict, cfg: Config, num_classes: int) -> list[str]:
    """Class names: the checkpoint's ``meta.dataset_meta.classes``, else the config's test
    dataset files (``resolve_class_names``) if they can be read, else indices."""
    meta = checkpoint.get('meta') or {}
    names = (meta.get('dataset_meta') or {}).get('classes')
    found = dataset_config(cfg, 'test')
    if not names and found is not None:
        try:
            names = resolve_class_names(found[1])[1]
        except AnnotationError:
            names = None
    names = [str(n) for n in names] if names else []
    return names[:num_classes] + [str(i) for i in range(len(names), num_classes)]


def load_model(config: str, checkpoint: str, device: str | None = None,
               cfg_options: dict | None = None, fuse: bool = False) -> tuple[Recognizer, Config, list[str]]:
    """Build the config's model, load the checkpoint's weights, move it to ``device`` in eval mode.

    Returns ``(model, cfg, class_names)``. The model's GFLOPs are counted here, once, so
    that the timing of :func:`infer_video` covers decoding and the model only. ``fuse``
    folds batch norms into the convs and pre-packs CPU weights for one clip
    (:func:`gfvideo.models.fuse.fuse_for_inference`): same predictions to float rounding,
    faster, but inference only (``tools/infer.py`` does it by default).
    """
    import gfvideo.data  # noqa: F401  (registers the transforms the pipeline names)
    import gfvideo.models  # noqa: F401  (registers the models)

    device = device or default_device()
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise InferenceError('--device cuda: no CUDA device is available')
    if not os.path.isfile(checkpoint):
        raise InferenceError(f'checkpoint not found: {checkpoint}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    with DefaultScope.overwrite_default_scope('gfvideo'):
        model = MODELS.build(cfg.model)
    try:  # a truncated, empty or foreign file: one line saying what is wrong
        ckpt = read_checkpoint(checkpoint, model, resume=False)
    except CheckpointError as exc:
        raise InferenceError(str(exc)) from None
    state = ckpt.get('state_dict', ckpt)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InferenceError(f'{checkpoint} does not fit {config}: {" ".join(str(exc).split())[:300]}') from exc
    model.to(device).eval()
    model_exit_costs(model)
    if fuse:
        s = model.input_size
        clip = torch.zeros(1, model.num_frames, 3, s, s, device=device)
        fuse_for_inference(model, lambda: model(clip))
    return model, cfg, _class_names(ckpt, cfg, model.num_classes)


def load_clip(cfg: Config, num_frames: int | None, path: str | os.PathLike) -> Clip:
    """The test split's clip of ``path`` (a video file or a frame folder; an image file for
    an ``ImageDataset``), made by the config's test dataset class itself (its ``for_path``,
    e.g. :meth:`VideoDataset.for_path`, as its clip 0).

    ``num_frames`` is the model's frames per view (``model.num_frames``, None: the config's):
    the dataset's frame count and its pipeline's crop size must fit the model (the rule of
    ``tools/train.py``'s config check; ``ConfigError`` naming both keys otherwise). Only the
    sampled frames are decoded; a video shorter than them repeats frames. Raises
    ``DecodeError`` for a missing, empty or undecodable file.
    """
    found = dataset_config(cfg, 'test')
    if found is None:
        raise InferenceError('the config has no test_dataloader.dataset to make the clip with')
    key, dataset_cfg = found
    model_cfg = dict(cfg.get('model') or {})
    if num_frames is not None:
        model_cfg['num_frames'] = num_frames
    with DefaultScope.overwrite_default_scope('gfvideo'):
        check_dataset_fits_model(model_cfg, key, dataset_cfg)
        dataset_cls = DATASETS.get(dataset_cfg.get('type', 'VideoDataset'))
        if dataset_cls is None or not issubclass(dataset_cls, VideoDataset):
            raise InferenceError(f'{key}.type={dataset_cfg.get("type")!r}: not a dataset that loads '
                                 f'one file (a VideoDataset or a subclass such as ImageDataset)')
        sample = dataset_cls.for_path(dataset_cfg, path).load(0)
    return Clip(path=os.fspath(path), inputs=sample['inputs'], frame_inds=sample['frame_inds'],
                num_frames=sample['num_frames'], num_views=sample['num_views'])


def _check_thresholds(model: Recognizer, thresholds: list[float] | ExitRule | None) -> ExitRule | None:
    """The exit rule (a list: max-prob thresholds), one threshold per exit (InferenceError otherwise)."""
    try:
        return model.check_thresholds(thresholds)
    except ValueError as exc:
        raise InferenceError(str(exc)) from None


@torch.inference_mode()
def predict_clip(model: Recognizer, clip: Clip, thresholds: list[float] | ExitRule | None = None,
                 class_names: list[str] | None = None, topk: int = 5) -> dict:
    """Run the model on one clip (early exit by ``thresholds``: an exit rule, or max-prob
    thresholds, one per exit); a JSON-ready dict.

    ``looks`` lists each focus step taken: the clip slots (``frames``), the video frames
    they came from (``video_frames``) and the patch boxes ``[x0, y0, x1, y1]`` in pixels of
    the model's input frames (``frame_hw``). A static model has one exit and no looks.
    """
    rule = _check_thresholds(model, thresholds)
    data = model.data_preprocessor(dict(inputs=clip.inputs[None], data_samples=None))
    result = model.predict(data['inputs'], None, rule)[0]
    scores = result['pred_scores'].float()
    names = class_names or [str(i) for i in range(scores.numel())]
    probs, classes = scores.topk(min(topk, scores.numel()))
    looks = [dict(step=t + 1, frames=[int(f) for f in look['frames']],
                  video_frames=[int(clip.frame_inds[f]) for f in look['frames']],
                  boxes=[[round(float(v), 2) for v in box] for box in look['boxes']])
             for t, look in enumerate(result['looks'])]
    return dict(
        top5=[dict(**{'class': int(c)}, name=names[int(c)], probability=float(p))
              for p, c in zip(probs.tolist(), classes.tolist())],
        exit=int(result['exit']),
        num_exits=model.num_exits,
        confidences=[float(c) for c in result['confidences']],
        gflops=float(result['gflops']),
        thresholds=None if rule is None else rule.thresholds,
        exit_score=None if rule is None else rule.score,
        sampled_frames=[int(i) for i in clip.frame_inds],
        frame_hw=[int(v) for v in clip.inputs.shape[-2:]],
        looks=looks,
    )


def analyse_video(model: Recognizer, cfg: Config, path: str | os.PathLike,
                  thresholds: list[float] | ExitRule | None = None,
                  class_names: list[str] | None = None) -> tuple[dict, Clip]:
    """:func:`infer_video`, also returning the clip (for pictures of what the model saw)."""
    _check_thresholds(model, thresholds)
    device = next(model.parameters()).device
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    clip = load_clip(cfg, model.num_frames, path)
    result = predict_clip(model, clip, thresholds, class_names)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - start
    out = dict(video=clip.path, num_frames_in_video=clip.num_frames, **result,
               wall_time_s=round(wall, 4), device=str(device))
    return out, clip


def infer_video(model: Recognizer, cfg: Config, path: str | os.PathLike,
                thresholds: list[float] | ExitRule | None = None, class_names: list[str] | None = None) -> dict:
    """Decode, transform and classify one video: top-5, exit, looks, GFLOPs, wall time (decode + model)."""
    return analyse_video(model, cfg, path, thresholds, class_names)[0]


def _title(result: dict) -> str:
    top = result['top5'][0]
    return (f"{Path(result['video']).name}: {top['name']} ({top['probability']:.2f}), "
            f"exit {result['exit']}, {result['gflops']:.4g} GFLOPs")


def draw_focus(out_dir: str | os.PathLike, result: dict, clip: Clip, gif: bool | None = None) -> dict[str, str]:
    """Write ``<stem>_focus.png`` (the sampled frames with the focus boxes, numbered by step),
    ``<stem>_focus.gif`` (the same frames animated; by default only for a clip of more than
    one frame: an image gets the PNG alone) and ``<stem>.json``; returns their paths."""
    from .report.plots import example_clips

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(clip.path).stem
    frames = clip.inputs.permute(0, 2, 3, 1).cpu().numpy()
    written = {}
    png = out / f'{stem}_focus.png'
    example_clips(png, [dict(frames=frames, looks=result['looks'], title=_title(result))])
    written['png'] = str(png)
    if gif is None:
        gif = len(frames) > 1
    if gif:
        path = out / f'{stem}_focus.gif'
        _focus_gif(path, frames, result['looks'], result['sampled_frames'])
        written['gif'] = str(path)
    js = out / f'{stem}.json'
    js.write_text(json.dumps(result, indent=2))
    written['json'] = str(js)
    return written


def _focus_gif(path: Path, frames: np.ndarray, looks: list[dict], video_frames: list[int],
               min_side: int = 256) -> None:
    """One GIF frame per sampled frame (enlarged, nearest neighbour), its focus boxes drawn."""
    from PIL import Image, ImageDraw

    from .report.draw import focus_frame

    h, w = frames.shape[1:3]
    scale = max(1, -(-min_side // min(h, w)))
    images = []
    for slot, frame in enumerate(frames):
        img = focus_frame(frame, looks, slot, scale)
        ImageDraw.Draw(img).text((4, 4), f'slot {slot} (video frame {video_frames[slot]})', fill='white')
        images.append(img.convert('P', palette=Image.ADAPTIVE))
    images[0].save(path, save_all=True, append_images=images[1:], duration=600, loop=0)
