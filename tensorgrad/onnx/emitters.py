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


# ----- element-wise
@emitter(ops.Add)
def add(g, op, inputs, out):
    _same_dtype(g, "Add", inputs, out)


@emitter(ops.Sub)
def sub(g, op, inputs, out):
    _same_dtype(g, "Sub", inputs, out)


@emitter(ops.Mul)
def mul(g, op, inputs, out):
    _same_dtype(g, "Mul", inputs, out)


@emitter(ops.Div)
def div(g, op, inputs, out):
    _same_dtype(g, "Div", inputs, out)


@emitter(ops.Pow)
def pow_(g, op, inputs, out):
    _same_dtype(g, "Pow", inputs, out)


@emitter(ops.Neg)
def neg(g, op, inputs, out):
    _same_dtype(g, "Neg", inputs, out)


@emitter(ops.Exp)
def exp(g, op, inputs, out):
    _same_dtype(g, "Exp", inputs, out)


@emitter(ops.Log)
def log(g, op, inputs, out):
    _same_dtype(g, "Log", inputs, out)


@emitter(ops.ReLU)
def relu(g, op, inputs, out):
    _same_dtype(g, "Relu", inputs, out)


@emitter(ops.Tanh)
def tanh(g, op, inputs, out):
    _same_dtype(g, "Tanh", inputs, out)


@emitter(ops.Sigmoid)
def sigmoid(g, op, inputs, out):
    _same_dtype(g, "Sigmoid", inputs, out)


@emitter(ops.Cast)
def cast(g, op, inputs, out):
    (x,) = inputs
    g.node("Cast", [x.name], out.name, to=g.onnx_dtype(op.dtype))


# ----- matrix products
@emitter(ops.MatMul)
def matmul(g, op, inputs, out):
    _same_dtype(g, "MatMul", inputs, out)


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


# ----- reductions
def _reduce(g, op_type: str, op, inputs, out: Value, axes_input_since: int) -> None:
    """ReduceSum/Mean/Max over `op.axis`; the axes are an input from `axes_input_since` on, else an attribute."""
    (x,) = inputs
    source = g.cast(x, out.dtype)
    if op.axis is None:
        g.node(op_type, [source], out.name, keepdims=int(op.keepdims))  # no axes: all of them
        return
    axes = (op.axis,) if isinstance(op.axis, (int, np.integer)) else tuple(op.axis)
    axes = sorted(int(axis) % max(x.ndim, 1) for axis in axes)
    if not axes:  # NumPy reduces over no axis at all; ONNX would read empty axes as all of them
        g.node("Identity", [source], out.name)
    elif g.opset >= axes_input_since:
        g.node(op_type, [source, g.ints(axes, "axes")], out.name, keepdims=int(op.keepdims))
    else:
        g.node(op_type, [source], out.name, axes=axes, keepdims=int(op.keepdims))


@emitter(ops.Sum)
def sum_(g, op, inputs, out):
    _reduce(g, "ReduceSum", op, inputs, out, axes_input_since=13)


@emitter(ops.Mean)
def mean(g, op, inputs, out):
    _reduce(g, "ReduceMean", op, inputs, out, axes_input_since=18)


@emitter(ops.Max)
def max_(g, op, inputs, out):
    _reduce(g, "ReduceMax", op, inputs, out, axes_input_since=18)


# ----- shapes
@emitter(ops.Reshape)
def reshape(g, op, inputs, out):
    """Reshape to `op.shape`; with a dynamic batch, a first axis that keeps the batch is written as 0 (copy)."""
    (x,) = inputs
    shape = [int(size) for size in op.shape]
    if 0 in shape:
        raise UnsupportedOpError(f"reshape to {tuple(shape)}: ONNX reads a 0 in a shape as 'keep this axis'")
    batched = g.dynamic_batch and x.from_input and x.ndim and x.shape[0] == g.batch_size
    if batched and shape and shape[0] != -1:
        if shape[0] != x.shape[0]:
            raise UnsupportedOpError(
                f"reshape of {x.shape} to {tuple(shape)} fixes the batch size at {g.batch_size}; keep the "
                "batch as the first axis, or export with dynamic_batch=False"
            )
        shape[0] = 0
    g.node("Reshape", [x.name, g.ints(shape, "shape")], out.name)


@emitter(ops.Permute)
def permute(g, op, inputs, out):
    (x,) = inputs
    g.node("Transpose", [x.name], out.name, perm=[int(axis) % max(x.ndim, 1) for axis in op.axes])


@emitter(ops.GetItem)
def getitem(g, op, inputs, out):
    """Indexing: ints and slices become Slice (+ Squeeze), None Unsqueeze, one integer array or boolean mask
    with slices Gather. Other combinations (several arrays, an array with ints or None) raise."""
    (x,) = inputs
    parts = _expand_index(op.index, x.ndim)
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
