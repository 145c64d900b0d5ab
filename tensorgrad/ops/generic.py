"""The functions derivatives are written with: each takes ndarrays or Tensors and returns the same kind.

On ndarrays (a first-order backward) they are NumPy; on Tensors (`backward(create_graph=True)`) they record
ops, so the derivative they compute can be differentiated again. Operators and the methods both kinds share
(`sum`, `reshape`, `swapaxes`, `.T`, indexing) need no entry here.
"""

from __future__ import annotations

import numpy as np

from ..autograd import engine
from ..tensor import Tensor, _make
from . import windows
from .registry import FUNCTIONS, OPS
from .special import erf_array


def matmul(a, b, out=None):
    """a @ b; on ndarrays written into `out` when given (see `Op.grad_out`)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a @ b
    return np.matmul(a, b, out=out)


def multiply(a, b, out=None):
    """a * b; on ndarrays written into `out` when given (see `Op.grad_out`)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a * b
    return np.multiply(a, b, out=out)


def sum_rows(x, out=None):
    """The sum over the first axis; on ndarrays written into `out` when given (see `Op.grad_out`)."""
    if isinstance(x, Tensor):
        return x.sum(axis=0)
    return np.add.reduce(x, axis=0, out=out)


def exp(x):
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def log(x):
    return x.log() if isinstance(x, Tensor) else np.log(x)


def where(condition, a, b):
    """`a` where `condition` holds, else `b`; `condition` is a constant boolean array."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return FUNCTIONS["where"](condition, a, b)
    return np.where(condition, a, b)


def permute(x, axes):
    return x.permute(axes) if isinstance(x, Tensor) else x.transpose(axes)


def broadcast_to(x, shape):
    return x.broadcast_to(shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def sum_to(x, shape: tuple):
    """Sum `x` over the axes that broadcasting added or stretched, so that it gets `shape`."""
    return x.sum_to_size(shape) if isinstance(x, Tensor) else engine.sum_to(x, shape)


def softmax(x, axis: int):
    if isinstance(x, Tensor):
        return x.softmax(axis)
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    out = np.exp(shifted)
    out /= np.add.reduce(out, axis=axis, keepdims=True)
    return out


def log_softmax(x, axis: int):
    if isinstance(x, Tensor):
        return x.log_softmax(axis)
    # ufunc reductions directly: the ndarray methods add a Python-level wrapper call to every op
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


def index_add(x, index, shape: tuple):
    """A zero array of `shape` with `x` added at `index` (repeated indices add up): indexing's adjoint."""
    if isinstance(x, Tensor):
        return FUNCTIONS["index_add"](x, index, shape)
    full = np.zeros(shape, dtype=x.dtype)
    if is_basic_index(index):
        full[index] = x
    else:
        np.add.at(full, index, x)
    return full


def is_basic_index(index) -> bool:
    """True for indices made only of ints, slices, None and Ellipsis (no element is picked twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        part is None or part is Ellipsis or isinstance(part, (slice, int, np.integer)) for part in parts
    )


def constant(x):
    """The values of `x` as an ndarray, for what a derivative treats as constant (masks, maxima, indices)."""
    return x.data if isinstance(x, Tensor) else x


def sign(x):
    """-1, 0 or 1 by the sign of `x`, as an ndarray: a derivative treats it as constant (it is, almost everywhere)."""
    return np.sign(constant(x))


def abs(x):
    return x.abs() if isinstance(x, Tensor) else np.abs(x)


def sin(x):
    return x.sin() if isinstance(x, Tensor) else np.sin(x)


def cos(x):
    return x.cos() if isinstance(x, Tensor) else np.cos(x)


def sigmoid(x):
    if isinstance(x, Tensor):
        return x.sigmoid()
    return np.exp(-np.logaddexp(0, -x))  # as the sigmoid op computes it: no overflow for x << 0


def erf(x):
    return x.erf() if isinstance(x, Tensor) else erf_array(x)


def flip(x, axes: tuple):
    return x.flip(axes) if isinstance(x, Tensor) else np.flip(x, axes)


def einsum(subscripts: str, *operands):
    """np.einsum on ndarrays; on Tensors the recorded op (ndarray operands then count as constants)."""
    if any(isinstance(op, Tensor) for op in operands):
        return FUNCTIONS["einsum"](
            subscripts, *[op if isinstance(op, Tensor) else Tensor(op) for op in operands]
        )
    return np.einsum(subscripts, *operands, optimize=len(operands) > 2)


def tanh(x):
    return x.tanh() if isinstance(x, Tensor) else np.tanh(x)


# ----- convolution and pooling: each primitive is an op (`ops.convolution`, `ops.pooling`) on Tensors


def conv2d(x, weight, geometry):
    """The convolution of x (N, C, H, W) with weight (O, C/groups, kH, kW), no bias (see `ops.convolution`)."""
    if isinstance(x, Tensor) or isinstance(weight, Tensor):
        return engine.apply(OPS["conv2d"](geometry), *_tensors(x, weight))
    return windows.conv2d(x, weight, geometry)


def conv2d_input(grad, weight, geometry, input_shape: tuple):
    """conv2d's gradient with respect to its input (a transposed convolution), of shape `input_shape`."""
    if isinstance(grad, Tensor) or isinstance(weight, Tensor):
        return engine.apply(OPS["conv2d_input"](geometry, input_shape), *_tensors(grad, weight))
    return windows.conv2d_input(grad, weight, geometry, input_shape)


def conv2d_weight(x, grad, geometry, weight_shape: tuple):
    """conv2d's gradient with respect to its weight, of shape `weight_shape`."""
    if isinstance(x, Tensor) or isinstance(grad, Tensor):
        return engine.apply(OPS["conv2d_weight"](geometry, weight_shape), *_tensors(x, grad))
    return windows.conv2d_weight(x, grad, geometry, weight_shape)


def avg_pool2d(x, geometry):
    if isinstance(x, Tensor):
        return engine.apply(OPS["avg_pool2d"](geometry), x)
    return windows.avg_pool2d(x, geometry)


def avg_pool2d_adjoint(grad, geometry, input_shape: tuple):
    """avg_pool2d's input gradient: each output's share spread back over its window."""
    if isinstance(grad, Tensor):
        return engine.apply(OPS["avg_pool2d_adjoint"](geometry, input_shape), grad)
    return windows.avg_pool2d_adjoint(grad, geometry, input_shape)


def _tensors(*values) -> list:
    """Values of which one is a Tensor, all as Tensors (an ndarray as a constant)."""
    return [v if isinstance(v, Tensor) else _make(v) for v in values]


def batch_invstd(x, axes: tuple, eps: float, cache=None):
    """1 / sqrt(var + eps) of `x` over `axes` (the biased variance, kept dims), as batch norm divides by.

    On ndarrays `cache`, the value the forward computed from this very `x`, is returned as it is; on Tensors
    it is computed again from `x`, recorded, so that the formula using it can be differentiated again.
    """
    if isinstance(x, Tensor):
        centered = x - x.mean(axis=axes, keepdims=True)
        return ((centered * centered).mean(axis=axes, keepdims=True) + eps) ** -0.5
    if cache is not None:
        return cache
    var = np.var(x, axis=axes, keepdims=True)
    return 1.0 / np.sqrt(var + np.asarray(eps, dtype=var.dtype))


def window_scatter(grad, masks, geometry, input_shape: tuple, channels_last: bool = False):
    """grad put at the element of each pooling window that `masks` (constant, one per kernel offset) pick."""
    if isinstance(grad, Tensor):
        return engine.apply(OPS["window_scatter"](masks, geometry, input_shape, channels_last), grad)
    return windows.window_scatter(grad, masks, geometry, input_shape, channels_last)


def window_gather(x, masks, geometry):
    """The element of each pooling window of `x` that `masks` pick (window_scatter's adjoint)."""
    if isinstance(x, Tensor):
        return engine.apply(OPS["window_gather"](masks, geometry), x)
    return windows.window_gather(x, masks, geometry)


def channel_sum_of_product(a, b, axes: tuple):
    """sum(a * b) over `axes` (all but axis 1), dims kept; on ndarrays one einsum pass, no product array."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (a * b).sum(axis=axes, keepdims=True)
    letters = "abcdefghijklmnopqrstuvwxyz"[: a.ndim]
    total = np.einsum(f"{letters},{letters}->{letters[1]}", a, b)
    return total.reshape((1, a.shape[1]) + (1,) * (a.ndim - 2))


def batch_normalized(x, axes: tuple, eps: float, cache=None):
    """(x - mean) / sqrt(var + eps) over `axes`; on ndarrays `cache` (the forward's, from this very `x`)."""
    if isinstance(x, Tensor):
        return (x - x.mean(axis=axes, keepdims=True)) * batch_invstd(x, axes, eps)
    if cache is not None:
        return cache
    return (x - x.mean(axis=axes, keepdims=True)) * batch_invstd(x, axes, eps)
