"""The temporal shift against a naive per-element reference, offline and online."""
import torch

from gfvideo.models.tsm import TemporalShift, temporal_shift


def naive_shift(x: torch.Tensor, fold: int, chunk: int | None = None) -> torch.Tensor:
    """Loop reference. ``chunk``: online mode over chunks of that many frames (next-frame
    values never cross a chunk end; previous-frame values do)."""
    b, t, c = x.shape[:3]
    out = torch.zeros_like(x)
    for i in range(t):
        chunk_end = t if chunk is None else (i // chunk + 1) * chunk
        for ch in range(c):
            if ch < fold:
                if i + 1 < chunk_end:
                    out[:, i, ch] = x[:, i + 1, ch]
            elif ch < 2 * fold:
                if i > 0:
                    out[:, i, ch] = x[:, i - 1, ch]
            else:
                out[:, i, ch] = x[:, i, ch]
    return out


def test_shift_matches_reference_with_zero_padding():
    x = torch.randn(2, 5, 16, 3, 3)
    out = temporal_shift(x, fold=2)
    assert torch.equal(out, naive_shift(x, 2))
    # ends are zero-padded: the last frame has no "next", the first no "previous"
    assert torch.all(out[:, -1, :2] == 0) and torch.all(out[:, 0, 2:4] == 0)


def test_module_uses_one_eighth_each_way():
    shift = TemporalShift(slot=0)
    x = torch.randn(2 * 4, 32, 2, 2)
    expected = naive_shift(x.view(2, 4, 32, 2, 2), fold=4).view(8, 32, 2, 2)
    out, carry = shift(x, 4)
    assert torch.equal(out, expected)
    assert torch.equal(carry, x.view(2, 4, 32, 2, 2)[:, -1, 4:8])   # the last frame's backward-shift channels


def test_online_chunks_equal_reference():
    b, t, c, k = 3, 8, 16, 2
    x = torch.randn(b, t, c, 2, 2)
    shift = TemporalShift(slot=0)
    chunks, prev = [], None
    for s in range(0, t, k):   # the state goes in and comes out of each call
        out, prev = shift(x[:, s:s + k].reshape(b * k, c, 2, 2), k, prev)
        chunks.append(out.view(b, k, c, 2, 2))
    assert torch.equal(torch.cat(chunks, 1), naive_shift(x, c // 8, chunk=k))
