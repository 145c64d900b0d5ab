"""Reductions over an axis (None, an int, or a tuple of ints)."""

from __future__ import annotations

import numpy as np

from .base import Op


def _normalize_axis(axis, ndim: int):
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

    def _grad_with_kept_dims(self, grad, in_shape):
        """The output gradient reshaped so that it broadcasts against the input."""
        if self.keepdims:
            return grad
        kept = list(in_shape)
        for ax in _normalize_axis(self.axis, len(in_shape)):
            kept[ax] = 1
        return grad.reshape(kept)

    def describe(self):
        extra = "" if self.axis is None else f"(axis={self.axis})"
        return f"{self.name}{extra}"


class Sum(_Reduction):
    __slots__ = ()
    name = "sum"

    def forward(self, a):
        self.saved = a.shape
        return np.asarray(a.sum(axis=self.axis, keepdims=self.keepdims))

    def backward(self, grad):
        shape = self.saved
        return (np.broadcast_to(self._grad_with_kept_dims(grad, shape), shape),)


class Mean(_Reduction):
    __slots__ = ()
    name = "mean"

    def forward(self, a):
        self.saved = a.shape
        return np.asarray(a.mean(axis=self.axis, keepdims=self.keepdims))

    def backward(self, grad):
        shape = self.saved
        count = 1
        for ax in _normalize_axis(self.axis, len(shape)):
            count *= shape[ax]
        # a Python float keeps float32 gradients float32
        return (np.broadcast_to(self._grad_with_kept_dims(grad, shape) / float(count), shape),)


class Max(_Reduction):
    """Maximum over an axis. Tied maxima share the gradient equally (PyTorch's `amax` rule)."""

    __slots__ = ()
    name = "max"

    def forward(self, a):
        out = np.asarray(a.max(axis=self.axis, keepdims=self.keepdims))
        self.saved = (a, out)
        return out

    def backward(self, grad):
        a, out = self.saved
        kept_out = self._grad_with_kept_dims(out, a.shape)
        is_max = a == kept_out
        ties = is_max.sum(axis=self.axis, keepdims=True)
        kept_grad = self._grad_with_kept_dims(grad, a.shape)
        return (np.where(is_max, kept_grad / ties.astype(grad.dtype), 0).astype(grad.dtype, copy=False),)
