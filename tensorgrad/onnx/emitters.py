"""How each tensorgrad op is written as ONNX nodes: one small function per op class, in `EMITTERS`.

An emitter is called as `emit(g, op, inputs, out)`: `g` is the `GraphBuilder` (`g.node(...)` adds a node,
`g.ints(...)` and `g.constant(...)` add initializers, `g.cast(value, dtype)` converts a value, `g.opset` is
the target opset), `op` the recorded op (its attributes: `op.axis`, `op.shape`, ...), `inputs` the `Value`s
of its input tensors (name, shape, dtype in the recorded run), and `out` the `Value` of its output, whose
name the emitter's last node must write. Inputs are cast to the output's dtype where NumPy would promote.

To map a new op, write one function here:

    @emitter(ops.Conv2d)
    def conv2d(g, op, inputs, out):
        g.node("Conv", [v.name for v in inputs], out.name, strides=list(op.stride), pads=...)

An op that is one ONNX node of its own kind, with no attributes, is one line of `ONE_NODE` instead.

An op whose parameters a mapping cannot express raises `UnsupportedOpError` saying so, rather than writing
a graph that computes something else.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from .export import UnsupportedOpError, Value

#: op class -> the function that writes it as ONNX nodes (looked up by exact class: a subclass may differ)
EMITTERS: dict = {}

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def emitter(*op_classes):
    """Register the decorated function as the ONNX mapping of `op_classes`."""

    def register(function):
        for op_class in op_classes:
            EMITTERS[op_class] = function
        return function

    return register


def _same_dtype(g, op_type: str, inputs, out: Value, **attributes) -> None:
    """One ONNX node over the inputs, each cast to the output's dtype first (NumPy's type promotion)."""
    g.node(op_type, [g.cast(value, out.dtype) for value in inputs], out.name, **attributes)


def _scalar(g, value, dtype, hint: str) -> str:
    """A 0-d initializer holding `value` in `dtype` (converted as NumPy converts it, ints truncated)."""
    return g.constant(np.asarray(value, dtype=dtype), hint)


def _batched(g, x: Value) -> bool:
    """True if the first axis of `x` is the free batch axis of a dynamic-batch export."""
    return bool(g.dynamic_batch and x.from_input and x.ndim and x.shape[0] == g.batch_size)


# ----- element-wise
#: ops that are one ONNX node of their own kind, inputs cast to the output's dtype (NumPy's promotion)
ONE_NODE = {
    ops.Add: "Add",
    ops.Sub: "Sub",
    ops.Mul: "Mul",
    ops.Div: "Div",
    ops.Pow: "Pow",
    ops.Neg: "Neg",
    ops.Exp: "Exp",
    ops.Log: "Log",
    ops.ReLU: "Relu",
    ops.Tanh: "Tanh",
    ops.Sigmoid: "Sigmoid",
    ops.pointwise.Abs: "Abs",
    ops.pointwise.Sqrt: "Sqrt",
    ops.pointwise.Sin: "Sin",
    ops.pointwise.Cos: "Cos",
    ops.pointwise.Erf: "Erf",
    ops.pointwise.Maximum: "Max",
    ops.pointwise.Minimum: "Min",
    ops.MatMul: "MatMul",
}


def _one_node(op_type: str):
    def emit(g, op, inputs, out):
        _same_dtype(g, op_type, inputs, out)

    emit.__name__ = emit.__qualname__ = op_type.lower()
    return emit


for _op_class, _op_type in ONE_NODE.items():
    EMITTERS[_op_class] = _one_node(_op_type)


@emitter(ops.Cast)
def cast(g, op, inputs, out):
    (x,) = inputs
    g.node("Cast", [x.name], out.name, to=g.onnx_dtype(op.dtype))


@emitter(ops.Where)
def where(g, op, inputs, out):
    """The condition is the op's constant mask (as computed when the model ran), an initializer here."""
    a, b = (g.cast(value, out.dtype) for value in inputs)
    g.node("Where", [g.constant(np.asarray(op.condition, dtype=bool), "condition"), a, b], out.name)


@emitter(ops.pointwise.Rsqrt)
def rsqrt(g, op, inputs, out):
    (x,) = inputs
    g.node("Reciprocal", [g.node("Sqrt", [g.cast(x, out.dtype)])], out.name)


@emitter(ops.pointwise.Square)
def square(g, op, inputs, out):
    (x,) = inputs
    source = g.cast(x, out.dtype)
    g.node("Mul", [source, source], out.name)


@emitter(ops.pointwise.Log1p)
def log1p(g, op, inputs, out):
    """ONNX has no log1p: log(u) * x / (u - 1) with u = 1 + x (Kahan's trick, exact to rounding where
    1 + x rounds) for |x| < 0.5, and x itself where u rounds to 1; plain log(1 + x) elsewhere."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    one = _scalar(g, 1, out.dtype, "one")
    u = g.node("Add", [source, one])
    u_minus_1 = g.node("Sub", [u, one])
    log_u = g.node("Log", [u])
    corrected = g.node("Mul", [log_u, g.node("Div", [source, u_minus_1])])
    small = g.node(
        "Where", [g.node("Equal", [u_minus_1, _scalar(g, 0, out.dtype, "zero")]), source, corrected]
    )
    near_zero = g.node("Less", [g.node("Abs", [source]), _scalar(g, 0.5, out.dtype, "half")])
    g.node("Where", [near_zero, small, log_u], out.name)


@emitter(ops.pointwise.Expm1)
def expm1(g, op, inputs, out):
    """ONNX has no expm1: (u - 1) * x / log(u) with u = exp(x) (Kahan's trick) for |x| < 0.5, and x
    itself where u rounds to 1; plain exp(x) - 1 elsewhere, where it loses nothing."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    u = g.node("Exp", [source])
    u_minus_1 = g.node("Sub", [u, _scalar(g, 1, out.dtype, "one")])
    corrected = g.node("Div", [g.node("Mul", [u_minus_1, source]), g.node("Log", [u])])
    exact = g.node("Equal", [u_minus_1, _scalar(g, 0, out.dtype, "zero")])
    small = g.node("Where", [exact, source, corrected])
    near_zero = g.node("Less", [g.node("Abs", [source]), _scalar(g, 0.5, out.dtype, "half")])
    g.node("Where", [near_zero, small, u_minus_1], out.name)


@emitter(ops.pointwise.Clamp)
def clamp(g, op, inputs, out):
    """Clip with its bounds in the tensor's dtype (a missing bound is an omitted input); as in PyTorch,
    ONNX gives `max` everywhere when min > max."""
    (x,) = inputs
    bounds = [
        "" if bound is None else _scalar(g, bound, out.dtype, name)
        for bound, name in ((op.low, "min"), (op.high, "max"))
    ]
    g.node("Clip", [g.cast(x, out.dtype), *bounds], out.name)


# ----- activations
@emitter(ops.activations.LeakyReLU)
def leaky_relu(g, op, inputs, out):
    """LeakyRelu, whose slope is a float32 attribute; in other dtypes x where x > 0, else slope * x."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    if out.dtype == np.float32:
        g.node("LeakyRelu", [source], out.name, alpha=op.negative_slope)
        return
    positive = g.node("Greater", [source, _scalar(g, 0, out.dtype, "zero")])
    sloped = g.node("Mul", [source, _scalar(g, op.negative_slope, out.dtype, "negative_slope")])
    g.node("Where", [positive, source, sloped], out.name)


@emitter(ops.activations.GELU)
def gelu(g, op, inputs, out):
    """Gelu from opset 20 in float32; before it, or in another dtype (onnxruntime expands Gelu of float64
    with float32 constants), the formula the op computes: x (1 + erf(x / sqrt 2)) / 2, or for
    approximate="tanh", x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    if g.opset >= 20 and out.dtype == np.float32:
        g.node("Gelu", [source], out.name, approximate=op.approximate)
        return
    if op.approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [source, source]), source])
        inner = g.node("Add", [source, g.node("Mul", [cube, _scalar(g, 0.044715, out.dtype, "cubic")])])
        curve = g.node(
            "Tanh", [g.node("Mul", [inner, _scalar(g, 0.7978845608028654, out.dtype, "sqrt_2_over_pi")])]
        )
    else:
        curve = g.node(
            "Erf", [g.node("Mul", [source, _scalar(g, 0.7071067811865476, out.dtype, "inv_sqrt_2")])]
        )
    scaled = g.node("Mul", [source, g.node("Add", [curve, _scalar(g, 1, out.dtype, "one")])])
    g.node("Mul", [scaled, _scalar(g, 0.5, out.dtype, "half")], out.name)


@emitter(ops.activations.SiLU)
def silu(g, op, inputs, out):
    """x * sigmoid(x) (ONNX's Swish, of opset 24, is newer than most runtimes)."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    g.node("Mul", [source, g.node("Sigmoid", [source])], out.name)


@emitter(ops.activations.Softplus)
def softplus(g, op, inputs, out):
    """Softplus(beta x) / beta, and x itself where beta x > threshold, as the op computes it."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    plain = op.beta == 1
    scaled = source if plain else g.node("Mul", [source, _scalar(g, op.beta, out.dtype, "beta")])
    finite = np.isfinite(op.threshold)
    soft = g.node("Softplus", [scaled], out.name if plain and not finite else None)
    if not plain:
        soft = g.node("Div", [soft, _scalar(g, op.beta, out.dtype, "beta")], None if finite else out.name)
    if finite:
        linear = g.node("Greater", [scaled, _scalar(g, op.threshold, out.dtype, "threshold")])
        g.node("Where", [linear, source, soft], out.name)


# ----- matrix products
@emitter(ops.Linear)
def linear(g, op, inputs, out):
    """x @ weight.T + bias: one Gemm for a batch of rows, else MatMul by the transposed weight (+ Add)."""
    x, weight, *bias = (g.cast(value, out.dtype) for value in inputs)
    if inputs[0].ndim == 2:
        g.node("Gemm", [x, weight, *bias], out.name, transB=1)
        return
    product = g.node(
        "MatMul", [x, g.node("Transpose", [weight], perm=[1, 0])], out.name if not bias else None
    )
    if bias:
        g.node("Add", [product, bias[0]], out.name)


@emitter(ops.einsum.Einsum)
def einsum(g, op, inputs, out):
    """Einsum over the op's subscripts, `...` already spelled out as letters (so any size stays free)."""
    equation = ",".join(op.terms) + "->" + op.output
    g.node("Einsum", [g.cast(value, out.dtype) for value in inputs], out.name, equation=equation)


# ----- reductions
def _axes(axis, ndim: int) -> list:
    """`op.axis` (None: every axis, an int, or a tuple) as a sorted list of non-negative axes."""
    if axis is None:
        return list(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return sorted(int(ax) % max(ndim, 1) for ax in axes)


def _reduce_node(g, op_type: str, source: str, axes: list, keepdims: bool, output=None) -> str:
    """One ReduceX node over `axes` (not empty); they are an input from the opset that made them one
    (13 for ReduceSum, 18 for the others), an attribute before."""
    axes_input_since = 13 if op_type == "ReduceSum" else 18
    if g.opset >= axes_input_since:
        return g.node(op_type, [source, g.ints(axes, "axes")], output, keepdims=int(keepdims))
    return g.node(op_type, [source], output, axes=axes, keepdims=int(keepdims))


def _reduce(g, op_type: str, op, inputs, out: Value) -> None:
    """ReduceSum/Mean/Max/... over `op.axis`, the input cast to the output's dtype."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    axes = _axes(op.axis, x.ndim)
    if not axes:  # NumPy reduces over no axis at all; ONNX would read empty axes as all of them
        g.node("Identity", [source], out.name)
    else:
        _reduce_node(g, op_type, source, axes, op.keepdims, out.name)


@emitter(ops.Sum)
def sum_(g, op, inputs, out):
    _reduce(g, "ReduceSum", op, inputs, out)


@emitter(ops.Mean)
def mean(g, op, inputs, out):
    _reduce(g, "ReduceMean", op, inputs, out)


@emitter(ops.Max)
def max_(g, op, inputs, out):
    _reduce(g, "ReduceMax", op, inputs, out)


@emitter(ops.reductions.Min)
def min_(g, op, inputs, out):
    _reduce(g, "ReduceMin", op, inputs, out)


@emitter(ops.reductions.LogSumExp)
def logsumexp(g, op, inputs, out):
    """ReduceLogSumExp (onnxruntime shifts it by the maximum, as the op does)."""
    _reduce(g, "ReduceLogSumExp", op, inputs, out)


def _variance(g, op, x: Value, output: str | None = None) -> str:
    """The variance of `x` over `op.axis` with `op.correction`: the summed squared deviations from the mean,
    divided by max(N - correction, 0). N is read from the input's shape when it counts the free batch axis."""
    axes = _axes(op.axis, x.ndim)
    if not axes:  # each element its own mean: every deviation is 0 (nan where x is not finite)
        squares = g.node("Sub", [x.name, x.name])
    else:
        deviation = g.node("Sub", [x.name, _reduce_node(g, "ReduceMean", x.name, axes, keepdims=True)])
        squares = _reduce_node(g, "ReduceSum", g.node("Mul", [deviation, deviation]), axes, op.keepdims)
    if 0 in axes and _batched(g, x):
        sizes = g.node("Gather", [g.node("Shape", [x.name]), g.ints(axes, "axes")], axis=0)
        count = g.node("ReduceProd", [sizes], keepdims=0)
        divisor = g.node(
            "Max", [g.node("Sub", [count, g.ints([op.correction], "correction")]), g.ints([0], "zero")]
        )
        divisor = g.node("Cast", [g.node("Squeeze", [divisor])], to=g.onnx_dtype(x.dtype))
    else:
        divisor = _scalar(g, op.divisor(x.shape), x.dtype, "divisor")
    return g.node("Div", [squares, divisor], output)


@emitter(ops.statistics.Var)
def var(g, op, inputs, out):
    _variance(g, op, inputs[0], out.name)


@emitter(ops.statistics.Std)
def std(g, op, inputs, out):
    g.node("Sqrt", [_variance(g, op, inputs[0])], out.name)


@emitter(ops.normalization.Norm)
def norm(g, op, inputs, out):
    """ReduceL2 and ReduceL1 for p = 2 and 1; (sum |x|^p)^(1/p) for another p."""
    (x,) = inputs
    axes = _axes(op.axis, x.ndim)
    if not axes:  # the norm of each element alone: |x|
        g.node("Abs", [x.name], out.name)
    elif op.p in (1, 2):
        _reduce_node(g, "ReduceL2" if op.p == 2 else "ReduceL1", x.name, axes, op.keepdims, out.name)
    else:
        powers = g.node("Pow", [g.node("Abs", [x.name]), _scalar(g, op.p, out.dtype, "p")])
        total = _reduce_node(g, "ReduceSum", powers, axes, op.keepdims)
        g.node("Pow", [total, _scalar(g, 1 / op.p, out.dtype, "inverse_p")], out.name)


# ----- shapes
@emitter(ops.Reshape)
def reshape(g, op, inputs, out):
    """Reshape to `op.shape`; with a dynamic batch, a first axis that keeps the batch is written as 0 (copy).
    A reshape that only drops or adds axes of size 1 (squeeze, unsqueeze) is Squeeze and Unsqueeze, which
    keep every other axis, the batch too, free."""
    (x,) = inputs
    if [n for n in x.shape if n != 1] == [n for n in out.shape if n != 1]:
        _squeeze_unsqueeze(g, x, out)
        return
    shape = [int(size) for size in op.shape]
    if 0 in shape:
        raise UnsupportedOpError(f"reshape to {tuple(shape)}: ONNX reads a 0 in a shape as 'keep this axis'")
    if _batched(g, x) and shape and shape[0] != -1:
        if shape[0] != x.shape[0]:
            raise UnsupportedOpError(
                f"reshape of {x.shape} to {tuple(shape)} fixes the batch size at {g.batch_size}; keep the "
                "batch as the first axis, or export with dynamic_batch=False"
            )
        shape[0] = 0
    g.node("Reshape", [x.name, g.ints(shape, "shape")], out.name)


def _squeeze_unsqueeze(g, x: Value, out: Value) -> None:
    """`x` to `out`'s shape, which has the same axes but for some of size 1: every axis of size 1 squeezed,
    then those of the output inserted (a batch axis of size 1 that stays first is left alone)."""
    keep_first = _batched(g, x) and out.ndim and out.shape[0] == x.shape[0]
    squeezed = [ax for ax, n in enumerate(x.shape) if n == 1 and not (keep_first and ax == 0)]
    inserted = [ax for ax, n in enumerate(out.shape) if n == 1 and not (keep_first and ax == 0)]
    result = x.name
    if squeezed:
        result = g.node("Squeeze", [result, g.ints(squeezed, "axes")], None if inserted else out.name)
    if inserted:
        result = g.node("Unsqueeze", [result, g.ints(inserted, "axes")], out.name)
    if result != out.name:  # the same shape
        g.node("Identity", [result], out.name)


@emitter(ops.BroadcastTo)
def broadcast_to(g, op, inputs, out):
    """Expand; an axis the input already has at its full size is written as 1, so it stays free."""
    (x,) = inputs
    lead = out.ndim - x.ndim
    shape = [1 if ax >= lead and x.shape[ax - lead] == size else size for ax, size in enumerate(out.shape)]
    g.node("Expand", [x.name, g.ints(shape, "shape")], out.name)


@emitter(ops.SumTo)
def sum_to(g, op, inputs, out):
    """ReduceSum over the axes broadcasting would stretch (kept) and add (then squeezed away)."""
    (x,) = inputs
    lead = x.ndim - out.ndim
    stretched = [ax for ax in range(lead, x.ndim) if out.shape[ax - lead] == 1 and x.shape[ax] != 1]
    axes = list(range(lead)) + stretched
    if not axes:
        g.node("Identity", [x.name], out.name)
        return
    summed = _reduce_node(g, "ReduceSum", x.name, axes, keepdims=True, output=None if lead else out.name)
    if lead:
        g.node("Squeeze", [summed, g.ints(range(lead), "axes")], out.name)


@emitter(ops.shape.Flip)
def flip(g, op, inputs, out):
    """Slice with step -1 along the flipped axes."""
    (x,) = inputs
    count = len(op.axes)
    starts, ends = g.ints([_INT64_MAX] * count, "starts"), g.ints([_INT64_MIN] * count, "ends")
    g.node("Slice", [x.name, starts, ends, g.ints(op.axes, "axes"), g.ints([-1] * count, "steps")], out.name)


@emitter(ops.padding.Pad)
def pad(g, op, inputs, out):
    """Pad in constant mode (negative pads crop, in ONNX as in the op), the value in the tensor's dtype."""
    (x,) = inputs
    pads = [before for before, _ in op.widths] + [after for _, after in op.widths]
    value = _scalar(g, op.value, out.dtype, "pad_value")
    g.node("Pad", [x.name, g.ints(pads, "pads"), value], out.name, mode="constant")


@emitter(ops.joining.Cat)
def cat(g, op, inputs, out):
    g.node("Concat", [g.cast(value, out.dtype) for value in inputs], out.name, axis=int(op.axis))


@emitter(ops.joining.Stack)
def stack(g, op, inputs, out):
    """Each input with a new axis (Unsqueeze), then Concat along it."""
    axes = g.ints([op.axis], "axes")
    pieces = [g.node("Unsqueeze", [g.cast(value, out.dtype), axes]) for value in inputs]
    g.node("Concat", pieces, out.name, axis=int(op.axis))


@emitter(ops.Permute)
def permute(g, op, inputs, out):
    (x,) = inputs
    g.node("Transpose", [x.name], out.name, perm=[int(axis) % max(x.ndim, 1) for axis in op.axes])


@emitter(ops.GetItem)
def getitem(g, op, inputs, out):
    """Indexing: ints and slices become Slice (+ Squeeze), None Unsqueeze, one integer array or boolean mask
    with slices Gather, and the index of `gather`/`take_along_dim` (an array along one axis, positions along
    the others) GatherElements. Other combinations (several arrays, an array with ints or None) raise."""
    (x,) = inputs
    parts = _expand_index(op.index, x.ndim)
    along = _gather_axis(parts, x.ndim)
    if along is not None:
        _gather_elements(g, x, parts, along, out)
        return
    arrays = [i for i, part in enumerate(parts) if isinstance(part, np.ndarray)]
    if arrays and (
        len(arrays) > 1
        or parts[arrays[0]].ndim != 1
        or any(part is None or isinstance(part, int) for part in parts)
    ):
        raise UnsupportedOpError(
            f"getitem with index {op.index!r}: of the indexing with arrays, only one 1-D integer array "
            "(or boolean mask) among slices is mapped"
        )
    starts, ends, axes, steps, squeezed, inserted = _slices(parts)
    result = x.name
    last = not squeezed and not inserted and not arrays
    if axes:
        inputs_ = [
            result,
            g.ints(starts, "starts"),
            g.ints(ends, "ends"),
            g.ints(axes, "axes"),
            g.ints(steps, "steps"),
        ]
        result = g.node("Slice", inputs_, out.name if last else None)
    if arrays:
        (array_axis,) = arrays  # no None among the parts: the part's position is its input axis
        g.node("Gather", [result, g.ints(parts[array_axis], "indices")], out.name, axis=array_axis)
        return
    if squeezed:
        result = g.node("Squeeze", [result, g.ints(squeezed, "axes")], None if inserted else out.name)
    if inserted:
        result = g.node("Unsqueeze", [result, g.ints(inserted, "axes")], out.name)
    if result != out.name:  # x[...] or x[:]: nothing to index
        g.node("Identity", [result], out.name)


def _is_position(part, axis: int, ndim: int) -> bool:
    """True if `part` is 0, 1, 2, ... along `axis` and of size 1 along the others: it keeps that axis."""
    return (
        isinstance(part, np.ndarray)
        and part.ndim == ndim
        and all(n == 1 for ax, n in enumerate(part.shape) if ax != axis)
        and np.array_equal(part.reshape(-1), np.arange(part.shape[axis]))
    )


def _gather_axis(parts: list, ndim: int):
    """The axis an index takes along, if it is one array per axis, all of them positions but that one
    (of more than one axis: one array indexing a vector is a Gather)."""
    if ndim < 2 or len(parts) != ndim or not all(isinstance(p, np.ndarray) and p.ndim == ndim for p in parts):
        return None
    others = [ax for ax in range(ndim) if not _is_position(parts[ax], ax, ndim)]
    if len(others) > 1:
        return None
    return others[0] if others else ndim - 1


def _gather_elements(g, x: Value, parts: list, axis: int, out: Value) -> None:
    """GatherElements along `axis`: out[i, j] = x[i, index[i, j]] for axis 1. The index is a constant of the
    output's shape; an axis of size 1 in `x` that the index stretches is expanded first."""
    for ax in range(x.ndim):
        if ax != axis and parts[ax].shape[ax] != out.shape[ax] and x.shape[ax] != 1:
            raise UnsupportedOpError(
                f"getitem of {x.shape}: the index repeats element 0 of axis {ax} {out.shape[ax]} times"
            )
    if _batched(g, x) and axis != 0 and parts[axis].shape[0] != out.shape[0]:
        raise UnsupportedOpError(
            f"getitem of {x.shape} with indices of shape {parts[axis].shape} broadcast along the batch axis "
            "fixes the batch size; export with dynamic_batch=False"
        )
    stretch = [size if ax != axis and x.shape[ax] == 1 else 1 for ax, size in enumerate(out.shape)]
    data = x.name if stretch == [1] * x.ndim else g.node("Expand", [x.name, g.ints(stretch, "shape")])
    indices = g.constant(np.broadcast_to(parts[axis], out.shape).astype(np.int64), "indices")
    g.node("GatherElements", [data, indices], out.name, axis=axis)


@emitter(ops.indexing.Embedding)
def embedding(g, op, inputs, out):
    """Gather of the weight's rows at the op's constant indices."""
    (weight,) = inputs
    indices = g.constant(np.asarray(op.indices, dtype=np.int64), "indices")
    g.node("Gather", [weight.name, indices], out.name, axis=0)


def _slices(parts: list) -> tuple:
    """What Slice, Squeeze and Unsqueeze need for the int, slice and None parts of an index: starts, ends,
    axes and steps of the sliced axes, the axes of the ints (to squeeze), and where the Nones go."""
    starts, ends, axes, steps, squeezed, inserted = [], [], [], [], [], []
    axis = position = 0  # the input axis and the output axis the next part applies to
    for part in parts:
        if part is None:
            inserted.append(position)
            position += 1
            continue
        if isinstance(part, int):
            starts.append(part)
            ends.append(part + 1 if part != -1 else _INT64_MAX)
            steps.append(1)
            axes.append(axis)
            squeezed.append(axis)
        else:
            if isinstance(part, slice) and part != slice(None):
                step = 1 if part.step is None else int(part.step)
                forward = step > 0
                # a missing bound is the end the step runs from or to; ONNX clamps these to the axis
                starts.append(int(part.start) if part.start is not None else (0 if forward else _INT64_MAX))
                ends.append(
                    int(part.stop) if part.stop is not None else (_INT64_MAX if forward else _INT64_MIN)
                )
                steps.append(step)
                axes.append(axis)
            position += 1
        axis += 1
    return starts, ends, axes, steps, squeezed, inserted


def _expand_index(index, ndim: int) -> list:
    """The parts of a NumPy index, one per input axis (Ellipsis expanded), plus the Nones; ints as int,
    arrays (and boolean masks, as their indices) as 1-D int64 arrays."""
    parts = list(index) if isinstance(index, tuple) else [index]
    converted = []
    for part in parts:
        if part is None or part is Ellipsis or isinstance(part, slice):
            converted.append(part)
        elif isinstance(part, (bool, np.bool_)):
            raise UnsupportedOpError(f"getitem with a boolean scalar index {part!r}")
        elif isinstance(part, (int, np.integer)):
            converted.append(int(part))
        else:
            array = np.asarray(part)
            if array.ndim == 0 and array.dtype.kind in "iu":  # NumPy reads it as an int
                converted.append(int(array))
                continue
            if array.dtype == bool:
                if array.ndim != 1:
                    raise UnsupportedOpError("getitem with a boolean mask of more than one dimension")
                array = np.flatnonzero(array)
            elif array.dtype.kind not in "iu":
                raise UnsupportedOpError(f"getitem with an index array of dtype {array.dtype}")
            converted.append(array.astype(np.int64))
    used = sum(part is not None and part is not Ellipsis for part in converted)
    ellipses = [i for i, part in enumerate(converted) if part is Ellipsis]  # (`in` would compare arrays)
    if len(ellipses) > 1:
        raise UnsupportedOpError("getitem with more than one Ellipsis")
    if ellipses:
        converted[ellipses[0] : ellipses[0] + 1] = [slice(None)] * (ndim - used)
    return converted


# ----- softmax and losses
@emitter(ops.Softmax)
def softmax(g, op, inputs, out):
    _same_dtype(g, "Softmax", inputs, out, axis=int(op.axis))


@emitter(ops.LogSoftmax)
def log_softmax(g, op, inputs, out):
    _same_dtype(g, "LogSoftmax", inputs, out, axis=int(op.axis))


@emitter(ops.CrossEntropy)
def cross_entropy(g, op, inputs, out):
    """SoftmaxCrossEntropyLoss for class indices; -sum(target * log_softmax) over classes for probabilities."""
    logits, target = inputs
    if target.dtype.kind in "iu":
        labels = g.cast(target, np.int64)
        g.node("SoftmaxCrossEntropyLoss", [logits.name, labels], out.name, reduction=op.reduction)
        return
    log_probs = g.node("LogSoftmax", [logits.name], axis=1)
    weighted = g.node("Mul", [g.cast(target, logits.dtype), log_probs])
    per_row = g.node("Neg", [g.node("ReduceSum", [weighted, g.ints([1], "axes")], keepdims=0)])
    if op.reduction == "none":
        g.node("Identity", [per_row], out.name)
    else:
        g.node("ReduceMean" if op.reduction == "mean" else "ReduceSum", [per_row], out.name, keepdims=0)


@emitter(ops.L2Penalty)
def l2_penalty(g, op, inputs, out):
    """lam / 2 * sum of every weight's sum of squares."""
    squares = [g.node("ReduceSumSquare", [g.cast(w, out.dtype)], keepdims=0) for w in inputs]
    total = g.node("Sum", squares)
    g.node("Mul", [total, g.constant(np.asarray(0.5 * op.lam, dtype=out.dtype), "half_lam")], out.name)


# ----- convolution, pooling, batch norm
def _window_attributes(geometry, dilations: bool = True) -> dict:
    """The kernel_shape, strides, pads ([top, left, bottom, right], ONNX's begins then ends) and dilations
    of a convolution or pooling window."""
    (top, bottom), (left, right) = geometry.padding
    attributes = {
        "kernel_shape": list(geometry.kernel),
        "strides": list(geometry.stride),
        "pads": [top, left, bottom, right],
    }
    if dilations:
        attributes["dilations"] = list(geometry.dilation)
    return attributes


@emitter(ops.convolution.Conv2d)
def conv2d(g, op, inputs, out):
    """Conv (cross-correlation, as the op), its bias the optional third input."""
    g.node(
        "Conv",
        [v.name for v in inputs],
        out.name,
        group=op.geometry.groups,
        **_window_attributes(op.geometry),
    )


@emitter(ops.pooling.MaxPool2d)
def max_pool2d(g, op, inputs, out):
    """MaxPool: ONNX ignores its padding, as the op's -inf padding never wins; output size rounded down."""
    (x,) = inputs
    g.node("MaxPool", [x.name], out.name, ceil_mode=0, **_window_attributes(op.geometry))


@emitter(ops.pooling.AvgPool2d)
def avg_pool2d(g, op, inputs, out):
    """AveragePool, the zero padding counted in the divisor (count_include_pad, the op's PyTorch default);
    GlobalAveragePool for a window that is the whole unpadded input (`adaptive_avg_pool2d(x, 1)`). The
    dilations attribute is from opset 19; the op's own entry points never dilate."""
    (x,) = inputs
    geometry = op.geometry
    if tuple(geometry.kernel) == tuple(x.shape[2:]) and not geometry.padded:
        g.node("GlobalAveragePool", [x.name], out.name)
        return
    dilated = tuple(geometry.dilation) != (1, 1)
    if dilated and g.opset < 19:
        raise UnsupportedOpError(f"avg_pool2d with dilation {geometry.dilation} needs opset 19 or later")
    attributes = _window_attributes(geometry, dilations=dilated)
    g.node("AveragePool", [x.name], out.name, count_include_pad=1, ceil_mode=0, **attributes)


@emitter(ops.batchnorm.BatchNormRunning)
def batch_norm_running(g, op, inputs, out):
    """BatchNormalization with the running statistics (initializers: a module's buffers keep their
    state_dict names, "1.running_mean"), as batch norm runs in eval mode."""
    x, mean, var, weight, bias = inputs
    g.node(
        "BatchNormalization",
        [x.name, *(g.cast(value, out.dtype) for value in (weight, bias, mean, var))],
        out.name,
        epsilon=float(op.eps),
    )
