"""Reductions over an axis (None, an int, or a tuple of ints)."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from ..tensor import _make, leaving_graph
from .base import Op
from .generic import broadcast_to, constant, exp
from .registry import FUNCTIONS, as_input, either_spelling, expose, register


def normalize_axis(axis, ndim: int):
    """The reduced axes as a sorted tuple of non-negative ints (all of them for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"axis {ax} is out of range for a tensor of {ndim} dimensions")
        normalized.append(int(ax) % max(ndim, 1))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"axis {axis} repeats an axis")
    return tuple(sorted(normalized))


class _Reduction(Op):
    __slots__ = ("axis", "keepdims")

    def __init__(self, axis=None, keepdims=False):
        self.axis = axis
        self.keepdims = keepdims

    @classmethod
    def call(cls, x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """`x.sum(axis, keepdims)`; PyTorch's `dim=` and `keepdim=` are accepted too."""
        x = as_input(x, cls.name)
        axis = either_spelling(cls.name, "dim", dim, "axis", axis)
        keepdims = keepdims if keepdim is None else keepdim
        return apply(cls(axis, bool(keepdims)), x)

    def kept(self, grad, in_shape):
        """The output gradient reshaped so that it broadcasts against the input."""
        if self.keepdims:
            return grad
        kept = list(in_shape)
        for ax in normalize_axis(self.axis, len(in_shape)):
            kept[ax] = 1
        return grad.reshape(tuple(kept))

    def describe(self):
        extra = "" if self.axis is None else f"(axis={self.axis})"
        return f"{self.name}{extra}"


@register("sum")
class Sum(_Reduction):
    """Sum over `axis` (None: all, an int, or a tuple of ints)."""

    __slots__ = ()
    name = "sum"

    def forward(self, a):
        return np.add.reduce(a, axis=self.axis, keepdims=self.keepdims)

    def backward(self, grad, a, out):
        return broadcast_to(self.kept(grad, a.shape), a.shape)


@register("mean")
class Mean(_Reduction):
    """Mean over `axis`; float32 stays float32."""

    __slots__ = ()
    name = "mean"

    def forward(self, a):
        if a.dtype.kind not in "fc":
            raise TypeError(f"mean() needs a floating-point tensor, not dtype {a.dtype}; use .float() first")
        return np.asarray(a.mean(axis=self.axis, keepdims=self.keepdims))

    def backward(self, grad, a, out):
        count = 1
        for ax in normalize_axis(self.axis, a.ndim):
            count *= a.shape[ax]
        # a Python float keeps float32 gradients float32
        return broadcast_to(self.kept(grad, a.shape) / float(count), a.shape)


@register("max")
class Max(_Reduction):
    """Maximum over `axis`. Tied maxima share the gradient equally (PyTorch's `amax` rule)."""

    __slots__ = ()
    name = "max"

    def forward(self, a):
        return np.asarray(a.max(axis=self.axis, keepdims=self.keepdims))

    def backward(self, grad, a, out):
        # which elements are the maxima is piecewise constant: a constant to any order
        values = constant(a)
        is_max = values == self.kept(constant(out), a.shape)
        share = np.divide(is_max, is_max.sum(axis=self.axis, keepdims=True), dtype=values.dtype)
        return broadcast_to(self.kept(grad, a.shape), a.shape) * share


def _index_of(name: str, x, axis, keepdims, dim, keepdim):
    """x.data.argmax or .argmin (`name`) along `dim`/`axis` as an int64 tensor, out of the graph."""
    x = as_input(x, name)
    leaving_graph(f"takes the {name} of", x)
    axis = either_spelling(name, "dim", dim, "axis", axis)
    keepdims = keepdims if keepdim is None else keepdim
    return _make(np.asarray(getattr(x.data, name)(axis=axis, keepdims=keepdims)))


def argmax(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Indices of the maxima along `axis` (int64; no gradient)."""
    return _index_of("argmax", x, axis, keepdims, dim, keepdim)


expose("argmax", argmax)


@register("min")
class Min(Max):
    """Minimum over `axis`. Tied minima share the gradient equally (PyTorch's `amin` rule)."""

    __slots__ = ()
    name = "min"

    def forward(self, a):
        return np.asarray(a.min(axis=self.axis, keepdims=self.keepdims))


# PyTorch's names for the values-only reductions (`max(dim)` there also returns the indices)
expose("amax", Max.call)
expose("amin", Min.call)


def argmin(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Indices of the minima along `axis` (int64; no gradient)."""
    return _index_of("argmin", x, axis, keepdims, dim, keepdim)


expose("argmin", argmin)


def prod(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """The product over `dim` (an int; None: all elements), as `torch.prod`.

    Built from multiplications of halves (log2(n) levels), so the gradient of each element is the exact
    product of all the others - zeros included, where dividing the product by the element would fail -
    and it can be differentiated again.
    """
    x = as_input(x, "prod")
    dim = either_spelling("prod", "dim", dim, "axis", axis)
    keepdim = keepdim if keepdims is None else keepdims
    if dim is None:
        return _product_of_last_axis(x.reshape(-1))
    (axis,) = normalize_axis(dim, x.ndim)
    if x.ndim == 0:
        return x
    order = [ax for ax in range(x.ndim) if ax != axis] + [axis]
    result = _product_of_last_axis(x.permute(order))
    return result.reshape(*result.shape[:axis], 1, *result.shape[axis:]) if keepdim else result


def _product_of_last_axis(x):
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:  # an odd length: pad with a one, which changes no product
            # (a pad, not a cat with ones: it holds no constant of x's shape, so an export keeps the batch free)
            x = FUNCTIONS["pad"](x, (0, 1), value=1)
        x = x[..., 0::2] * x[..., 1::2]
    if x.shape[-1] == 0:  # the empty product
        return _make(np.ones(x.shape[:-1], dtype=x.dtype))
    return x[..., 0]


expose("prod", prod)


@register("logsumexp")
class LogSumExp(_Reduction):
    """log(sum(exp(x))) over `dim`, shifted by the maximum so it is finite for any finite input."""

    __slots__ = ()
    name = "logsumexp"

    def forward(self, a):
        shift = np.maximum.reduce(a, axis=self.axis, keepdims=True) if a.size else np.zeros((), a.dtype)
        shift = np.where(np.isfinite(shift), shift, 0)  # all -inf: the answer is -inf, not nan
        with np.errstate(divide="ignore"):
            total = np.log(np.add.reduce(np.exp(a - shift), axis=self.axis, keepdims=True)) + shift
        return total if self.keepdims else np.squeeze(total, axis=normalize_axis(self.axis, a.ndim))

    def backward(self, grad, a, out):
        # d/dx_i logsumexp(x) = softmax(x)_i = exp(x_i - logsumexp(x))
        return self.kept(grad, a.shape) * exp(a - self.kept(out, a.shape))
