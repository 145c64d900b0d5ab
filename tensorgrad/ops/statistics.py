"""Variance and standard deviation over axes, with PyTorch's `correction` (and its older `unbiased` flag)."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from .generic import constant, where
from .reductions import _Reduction, normalize_axis
from .registry import as_input, either_spelling, register


class _Spread(_Reduction):
    __slots__ = ("correction",)

    def __init__(self, axis=None, keepdims=False, correction=1):
        super().__init__(axis, keepdims)
        self.correction = correction

    @classmethod
    def call(cls, x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """`x.var(dim, unbiased, keepdim, correction=)` as PyTorch's; `x.var(False)` is `unbiased=False`."""
        x = as_input(x, cls.name)
        if isinstance(dim, bool):  # the overload var(unbiased)
            dim, unbiased = None, dim
        dim = either_spelling(cls.name, "dim", dim, "axis", axis)
        keepdim = keepdim if keepdims is None else keepdims
        if unbiased is not None and correction is not None:
            raise TypeError(f"{cls.name}(): give either unbiased or correction, not both")
        if correction is None:
            correction = 1 if unbiased is None else int(bool(unbiased))
        if x.dtype.kind not in "fc":
            raise TypeError(
                f"{cls.name}() needs a floating-point tensor, not dtype {x.dtype}; use .float() first"
            )
        return apply(cls(normalize_axis(dim, x.ndim), bool(keepdim), correction), x)

    def divisor(self, shape) -> int:
        """N - correction, where N is the number of elements each result summarizes (at least 0, as PyTorch)."""
        count = 1
        for ax in self.axis:
            count *= shape[ax]
        return max(count - self.correction, 0)

    def variance(self, a):
        deviation = a - a.mean(axis=self.axis, keepdims=True)
        squares = np.add.reduce(deviation * deviation, axis=self.axis, keepdims=self.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):  # N <= correction: inf or nan, as PyTorch
            return squares / a.dtype.type(self.divisor(a.shape))

    def variance_backward(self, grad, a):
        """The gradient of the variance, for an incoming `grad` of the variance's shape."""
        deviation = a - a.mean(axis=self.axis, keepdims=True)
        with np.errstate(divide="ignore"):
            scale = float(np.divide(2.0, self.divisor(a.shape)))  # a Python float keeps float32 float32
        return self.kept(grad, a.shape) * deviation * scale

    def describe(self):
        return f"{self.name}(axis={self.axis}, correction={self.correction})"


@register("var")
class Var(_Spread):
    """Variance over `dim` with `correction` (1 by default: Bessel's), as `torch.var`."""

    __slots__ = ()
    name = "var"

    def forward(self, a):
        return self.variance(a)

    def backward(self, grad, a, out):
        return self.variance_backward(grad, a)


@register("std")
class Std(_Spread):
    """Standard deviation over `dim` with `correction`, as `torch.std`; its gradient is 0 where it is 0."""

    __slots__ = ()
    name = "std"

    def forward(self, a):
        return np.sqrt(self.variance(a))

    def backward(self, grad, a, out):
        # d std = d var / (2 std); PyTorch takes it as 0 where std = 0 (a constant slice) rather than nan
        zero = constant(out) == 0
        return self.variance_backward(where(zero, 0.0, grad / (where(zero, 1.0, out) * 2)), a)
