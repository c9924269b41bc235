"""Measured compute: GFLOPs of a module on given inputs, under one fixed convention.

Convention
----------
* **GFLOPs = 1e9 multiply-adds** (one fused multiply-add counts as one FLOP), **per input
  as given**: nothing is divided by the batch size, so callers pass batch 1 for the cost of
  one clip / one frame.
* Counted by tracing the module (``torch.jit`` tracing) with ``mmengine.analysis.
  FlopAnalyzer``, in eval mode under ``torch.no_grad``. mmengine's own handles are kept:
  convolution, linear / addmm, matmul / mm / bmm / einsum, batch norm (eval: 2 per element
  with affine), group / layer / instance norm, nearest and bilinear upsampling,
  ``adaptive_avg_pool2d`` and ``grid_sampler``. These reproduce the "mmengine (with BN)"
  column of docs/references.md, "FLOPs reference" (ResNet-50 at 224 = 4.112, MobileNetV2 = 0.314).
* **Plus** handles registered here for ops mmengine skips or reports as 0 (see
  ``EXTRA_HANDLES``):

  ========================================  ==============================================
  op                                        multiply-adds counted
  ========================================  ==============================================
  ``max_pool{1,2,3}d``, ``avg_pool{1,2,3}d``  output elements * kernel area (one per input
                                            element each window reads; padding included)
  ``adaptive_max_pool{1,2,3}d``, ``mean``   input elements (a pooling, like mmengine's
                                            ``adaptive_avg_pool2d``)
  ``_upsample_bilinear2d_aa``               output elements * 4 (as bilinear; the wider
                                            antialias kernel is not modelled)
  ``upsample_bicubic2d`` (and ``_aa``)      output elements * 16 (4 x 4 taps)
  ``upsample_linear1d`` / ``trilinear3d``   output elements * 2 / * 8
  ``affine_grid_generator``                 the ``[N, H, W, 3] x [3, 2]`` matmul: output
                                            points * 2 coordinates * 3 (``* 4`` in 3-D)
  ``gru``, ``lstm``, ``rnn_tanh``,          the gate matmuls only: for every 2-D weight
  ``rnn_relu`` and their ``*_cell`` ops     matrix, its size per (time step, batch
                                            element, direction), e.g. a GRU step costs
                                            ``input_size*3H + H*3H``; bias adds, the
                                            sigmoid / tanh and the elementwise gate
                                            products (O(H) per step) are not counted
  ``embedding``                             0 (a table lookup), declared so it is not an
                                            "unhandled op with weights"
  ========================================  ==============================================

  torch 2.14's tracer decomposes ``nn.GRUCell`` / ``nn.LSTMCell`` / ``nn.RNNCell`` into
  ``aten::linear`` plus elementwise ops (so they are counted by the linear handle: the
  same gate matmuls, the elementwise gate products again uncounted), while ``nn.GRU`` /
  ``nn.LSTM`` / ``nn.RNN`` appear as one fused ``aten::gru`` / ``aten::lstm`` /
  ``aten::rnn_tanh`` node, which mmengine would count as 0. With the handles here a
  ``T``-step ``nn.GRU`` costs exactly ``T`` ``nn.GRUCell`` steps.
* Weightless elementwise ops (relu, add, sigmoid, ...) are not counted, as in mmengine.

An op **with weights** that cannot be counted is an error, never a silent zero: after the
analysis, every leaf module (no child modules) that owns parameters, was called during
the trace, counted 0 multiply-adds and ran an unhandled op raises ``FlopCountError``
naming the module and the ops. (A leaf whose ops are all known to be free, e.g. a lookup
or a concatenation, is allowed to cost 0.) mmengine's warnings about unsupported ops and
uncalled modules are switched off; ``analyze_flops`` returns both lists instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import torch
from mmengine.analysis import FlopAnalyzer
from torch import nn

__all__ = [
    "EXTRA_HANDLES",
    "FlopCountError",
    "FlopReport",
    "analyze_flops",
    "count_gflops",
]

Handle = Callable[[list, list], Any]


class FlopCountError(RuntimeError):
    """A module with weights ran an op that the FLOP counter cannot count."""


# --------------------------------------------------------------------------------------
# Helpers reading shapes and constants off traced graph values
# --------------------------------------------------------------------------------------
def _shape(value: Any) -> list[int]:
    """Static shape of a traced tensor value (fails loudly if the trace has none)."""
    if not value.isCompleteTensor():
        raise FlopCountError(f"traced value {value.debugName()} has no static shape")
    return list(value.type().sizes())


def _numel(value: Any) -> int:
    return math.prod(_shape(value))


def _int_list(value: Any) -> list[int]:
    """An ``int[]`` argument of a traced op: a constant or a ``prim::ListConstruct``."""
    node = value.node()
    if node.kind() == "prim::ListConstruct":
        return [int(v.toIValue()) for v in node.inputs()]
    ivalue = value.toIValue()
    return [int(ivalue)] if isinstance(ivalue, int) else [int(v) for v in ivalue]


def _tensor_list(value: Any) -> list[Any]:
    """The tensor values packed into a traced ``Tensor[]`` argument."""
    node = value.node()
    if node.kind() != "prim::ListConstruct":
        raise FlopCountError(f"cannot read the tensor list {value.debugName()} ({node.kind()})")
    return list(node.inputs())


def _is_tensor_list(value: Any) -> bool:
    return str(value.type()) == "List[Tensor]"


# --------------------------------------------------------------------------------------
# Handles. Each takes the op's traced (inputs, outputs) and returns multiply-adds.
# --------------------------------------------------------------------------------------
def _window_pool(spatial_dims: int) -> Handle:
    """``max/avg_pool{n}d``: output elements * kernel area."""

    def handle(inputs: list, outputs: list) -> int:
        kernel = _int_list(inputs[1])
        if len(kernel) == 1:
            kernel = kernel * spatial_dims
        return _numel(outputs[0]) * math.prod(kernel)

    return handle


def _input_elements(inputs: list, outputs: list) -> int:
    """A reduction read once per input element (``mean``, adaptive max pooling)."""
    return _numel(inputs[0])


def _per_output(taps: int) -> Handle:
    """Interpolation: ``taps`` multiply-adds per output element."""

    def handle(inputs: list, outputs: list) -> int:
        return _numel(outputs[0]) * taps

    return handle


def _affine_grid(inputs: list, outputs: list) -> int:
    """``affine_grid``: each output coordinate is a dot product with one row of theta.

    2-D: the ``[N, H, W, 3] x [3, 2]`` matmul = N*H*W*2*3; 3-D: ``[N, D, H, W, 4] x [4, 3]``.
    """
    return _numel(outputs[0]) * _shape(inputs[0])[-1]


def _matrix_weights(values: Sequence[Any]) -> int:
    """Summed size of the 2-D weight matrices among ``values`` (biases are 1-D)."""
    return sum(_numel(v) for v in values if v.isCompleteTensor() and len(_shape(v)) == 2)


def _rnn_cell(inputs: list, outputs: list) -> int:
    """``gru_cell`` / ``lstm_cell`` / ``rnn_*_cell``: (input, hx, w_ih, w_hh, b_ih, b_hh).

    One step: rows * (w_ih.numel() + w_hh.numel()), rows = batch elements.
    """
    rows = math.prod(_shape(inputs[0])[:-1])
    return rows * _matrix_weights(inputs[2:4])


def _rnn_sequence(inputs: list, outputs: list) -> int:
    """Fused ``gru`` / ``lstm`` / ``rnn_*`` (padded or packed input).

    Every 2-D weight matrix (input-hidden, hidden-hidden, LSTM projection; every layer and
    direction) is applied once per (time step, batch element): rows = input elements /
    input_size, for ``[T, B, F]``, ``[B, T, F]``, unbatched ``[T, F]`` and packed ``[sum T, F]``.
    The weights are the last ``Tensor[]`` argument (LSTM's hidden state is also a list).
    """
    rows = math.prod(_shape(inputs[0])[:-1])
    params = [v for v in inputs[1:] if _is_tensor_list(v)][-1]
    return rows * _matrix_weights(_tensor_list(params))


def _free(inputs: list, outputs: list) -> int:
    """An op with weights that really does no multiply-adds (a table lookup)."""
    return 0


EXTRA_HANDLES: dict[str, Handle] = {
    "aten::max_pool1d": _window_pool(1),
    "aten::max_pool2d": _window_pool(2),
    "aten::max_pool3d": _window_pool(3),
    "aten::avg_pool1d": _window_pool(1),
    "aten::avg_pool2d": _window_pool(2),
    "aten::avg_pool3d": _window_pool(3),
    "aten::adaptive_max_pool1d": _input_elements,
    "aten::adaptive_max_pool2d": _input_elements,
    "aten::adaptive_max_pool3d": _input_elements,
    "aten::mean": _input_elements,
    "aten::_upsample_bilinear2d_aa": _per_output(4),
    "aten::upsample_bicubic2d": _per_output(16),
    "aten::_upsample_bicubic2d_aa": _per_output(16),
    "aten::upsample_linear1d": _per_output(2),
    "aten::upsample_trilinear3d": _per_output(8),
    "aten::affine_grid_generator": _affine_grid,
    "aten::gru_cell": _rnn_cell,
    "aten::lstm_cell": _rnn_cell,
    "aten::rnn_tanh_cell": _rnn_cell,
    "aten::rnn_relu_cell": _rnn_cell,
    "aten::gru": _rnn_sequence,
    "aten::lstm": _rnn_sequence,
    "aten::rnn_tanh": _rnn_sequence,
    "aten::rnn_relu": _rnn_sequence,
    "aten::embedding": _free,
}
"""Handles added to mmengine's defaults (op name -> multiply-adds); see the module doc."""


# --------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------
@dataclass
class FlopReport:
    """Result of one traced analysis; all costs in GFLOPs (1e9 multiply-adds)."""

    total: float
    by_module: dict[str, float]
    by_operator: dict[str, float]
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    """Unhandled op name -> occurrences (weightless ops; they cost 0 by convention)."""
    uncalled_modules: list[str] = field(default_factory=list)


def _as_tuple(inputs: Any) -> tuple:
    return inputs if isinstance(inputs, tuple) else (inputs,)


def _check_weighted_leaves(module: nn.Module, analyzer: FlopAnalyzer) -> None:
    """Raise if a called leaf module with parameters counted 0 because of unhandled ops."""
    counts = analyzer.by_module()
    uncalled = analyzer.uncalled_modules()
    problems = []
    for name, mod in module.named_modules():
        if next(mod.children(), None) is not None:
            continue
        if next(mod.parameters(recurse=False), None) is None:
            continue
        name = analyzer.canonical_module_name(name)
        if name in uncalled or counts.get(name, 0) > 0:
            continue
        ops = analyzer.unsupported_ops(name)
        if ops:
            label = name or "<root>"
            problems.append(f"{label} ({type(mod).__name__}): {', '.join(sorted(ops))}")
    if problems:
        raise FlopCountError(
            "modules with weights counted 0 FLOPs because of ops without a FLOP handle "
            "(register one via `handles=`): " + "; ".join(problems)
        )


def analyze_flops(
    module: nn.Module,
    inputs: tuple | torch.Tensor,
    *,
    handles: Optional[Mapping[str, Optional[Handle]]] = None,
) -> FlopReport:
    """Trace ``module(*inputs)`` once and count its multiply-adds (module docstring).

    Runs in eval mode under ``torch.no_grad``; every submodule's training flag is restored
    afterwards. ``handles`` adds or overrides op handles (``None`` = the op is free).
    Raises ``FlopCountError`` for a weighted leaf module that counted 0 (see module doc).
    """
    inputs = _as_tuple(inputs)
    modes = {m: m.training for m in module.modules()}
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.set_op_handle(**EXTRA_HANDLES)
    if handles:
        analyzer.set_op_handle(**dict(handles))
        for name, handle in handles.items():
            if handle is None:  # mmengine marks it ignored but keeps counting with its old handle
                analyzer._op_handles.pop(name, None)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    try:
        module.eval()
        with torch.no_grad():
            total = analyzer.total()
    finally:
        for m, mode in modes.items():
            m.training = mode
    _check_weighted_leaves(module, analyzer)
    return FlopReport(
        total=total / 1e9,
        by_module={k: v / 1e9 for k, v in analyzer.by_module().items()},
        by_operator={k: v / 1e9 for k, v in analyzer.by_operator().items()},
        unsupported_ops=dict(analyzer.unsupported_ops()),
        uncalled_modules=sorted(analyzer.uncalled_modules()),
    )


def count_gflops(
    module: nn.Module,
    inputs: tuple | torch.Tensor,
    *,
    by_module: bool = False,
    handles: Optional[Mapping[str, Optional[Handle]]] = None,
) -> float | tuple[float, dict[str, float]]:
    """GFLOPs (1e9 multiply-adds) of ``module(*inputs)`` for the batch size given.

    With ``by_module=True`` also returns ``{submodule name: GFLOPs}`` (``""`` = the root;
    a module's entry includes its children). See ``analyze_flops`` for ``handles``.
    """
    report = analyze_flops(module, inputs, handles=handles)
    if by_module:
        return report.total, report.by_module
    return report.total
