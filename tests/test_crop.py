"""Hard and differentiable crops agree at integer positions and stay inside the frame."""
import torch

from gfvideo.models.crop import differentiable_crop, hard_crop, patch_boxes


def test_differentiable_equals_hard_at_integer_positions():
    frames = torch.randn(6, 3, 40, 50, generator=torch.Generator().manual_seed(0))
    patch = 16
    origins = torch.tensor([[0, 0], [34, 24], [5, 7], [17, 3], [20, 20], [1, 23]], dtype=torch.float32)
    centers = origins / torch.tensor([50 - patch, 40 - patch])
    hard = hard_crop(frames, centers, patch)
    soft = differentiable_crop(frames, centers, patch)
    assert torch.allclose(hard, soft, atol=1e-4)  # float32 rounding of the grid
    for i, (x0, y0) in enumerate(origins.long().tolist()):
        assert torch.equal(hard[i], frames[i, :, y0:y0 + patch, x0:x0 + patch])


def test_index_picks_source_frames():
    frames = torch.randn(4, 3, 20, 20)
    centers = torch.rand(3, 2)
    index = torch.tensor([3, 0, 3])
    assert torch.equal(hard_crop(frames, centers, 8, index), hard_crop(frames[index], centers, 8))
    assert torch.allclose(differentiable_crop(frames, centers, 8, index),
                          differentiable_crop(frames[index], centers, 8))


def test_boxes_stay_inside_and_clamp():
    centers = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [-3.0, 7.0]])
    boxes = patch_boxes(centers, (64, 96), 32)
    assert boxes.tolist() == [[0, 0, 32, 32], [64, 32, 96, 64], [32, 16, 64, 48], [0, 32, 32, 64]]


def test_gradient_reaches_centers():
    frames = torch.randn(2, 3, 32, 32)
    centers = torch.full((2, 2), 0.37, requires_grad=True)
    differentiable_crop(frames, centers, 8).sum().backward()
    assert centers.grad is not None and centers.grad.abs().sum() > 0
