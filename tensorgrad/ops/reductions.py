"""Reductions over an axis (None, an int, or a tuple of ints)."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from ..tensor import _make
from .base import Op
from .generic import broadcast_to, constant
from .registry import as_input, expose, register


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
        if dim is not None:
            axis = dim
        if keepdim is not None:
            keepdims = keepdim
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


def argmax(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Indices of the maxima along `axis` (int64; no gradient)."""
    x = as_input(x, "argmax")
    axis = dim if dim is not None else axis
    keepdims = keepdim if keepdim is not None else keepdims
    return _make(np.asarray(x.data.argmax(axis=axis, keepdims=keepdims)))


expose("argmax", argmax)
