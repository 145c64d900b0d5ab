"""Element-wise math beyond the arithmetic operators: abs, roots, clamping, sin/cos, erf, maximum/minimum.

Kinks and ties follow PyTorch: abs'(0) = 0, clamp passes the gradient at its bounds, and maximum/minimum of
equal inputs give each input half of the gradient. Each backward is written with `ops.generic`, so it can
be differentiated again.
"""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from .base import Op
from .generic import constant, cos, exp, sign, sin
from .registry import as_input, expose, register
from .special import erf_array

_TWO_OVER_SQRT_PI = 1.1283791670955126


@register("abs")
class Abs(Op):
    """|x| element-wise; its gradient at 0 is 0, as in PyTorch."""

    __slots__ = ()
    name = "abs"

    def forward(self, a):
        return np.abs(a)

    def backward(self, grad, a, out):
        return grad * sign(a)


@register("sqrt")
class Sqrt(Op):
    """Square root element-wise; its gradient at 0 is +inf, as in PyTorch."""

    __slots__ = ()
    name = "sqrt"

    def forward(self, a):
        return np.sqrt(a)

    def backward(self, grad, a, out):
        with np.errstate(divide="ignore"):  # 1 / (2 sqrt(0)) is inf by design
            return grad / (out * 2)


@register("rsqrt")
class Rsqrt(Op):
    """1 / sqrt(x) element-wise."""

    __slots__ = ()
    name = "rsqrt"

    def forward(self, a):
        with np.errstate(divide="ignore"):  # rsqrt(0) = inf, as in PyTorch
            return 1 / np.sqrt(a)

    def backward(self, grad, a, out):
        # d/dx x**-0.5 = -0.5 x**-1.5 = -0.5 rsqrt(x)**3
        return grad * (out * out * out) * -0.5


@register("square")
class Square(Op):
    """x * x element-wise."""

    __slots__ = ()
    name = "square"

    def forward(self, a):
        return a * a

    def backward(self, grad, a, out):
        return grad * (a * 2)


@register("log1p")
class Log1p(Op):
    """log(1 + x) element-wise, accurate for tiny x."""

    __slots__ = ()
    name = "log1p"

    def forward(self, a):
        return np.log1p(a)

    def backward(self, grad, a, out):
        return grad / (a + 1)


@register("expm1")
class Expm1(Op):
    """exp(x) - 1 element-wise, accurate for tiny x."""

    __slots__ = ()
    name = "expm1"

    def forward(self, a):
        return np.expm1(a)

    def backward(self, grad, a, out):
        return grad * (out + 1)


@register("sin")
class Sin(Op):
    """Sine element-wise."""

    __slots__ = ()
    name = "sin"

    def forward(self, a):
        return np.sin(a)

    def backward(self, grad, a, out):
        return grad * cos(a)


@register("cos")
class Cos(Op):
    """Cosine element-wise."""

    __slots__ = ()
    name = "cos"

    def forward(self, a):
        return np.cos(a)

    def backward(self, grad, a, out):
        return -grad * sin(a)


@register("erf")
class Erf(Op):
    """The error function element-wise (as `torch.erf`): 2 / sqrt(pi) * integral of exp(-t^2) from 0 to x."""

    __slots__ = ()
    name = "erf"

    def forward(self, a):
        return erf_array(a)

    def backward(self, grad, a, out):
        return grad * exp(-(a * a)) * _TWO_OVER_SQRT_PI


@register("clamp")
class Clamp(Op):
    """x limited to [min, max] (either may be None); the gradient passes where min <= x <= max, bounds included."""

    __slots__ = ("high", "low")
    name = "clamp"

    def __init__(self, low, high):
        self.low = low
        self.high = high

    @classmethod
    def call(cls, x, min=None, max=None):
        x = as_input(x, "clamp")
        if min is None and max is None:
            raise ValueError("clamp(): at least one of min and max must be given")
        for bound in (min, max):
            if bound is not None and not isinstance(bound, (int, float, np.integer, np.floating)):
                raise TypeError(f"clamp(): min and max must be numbers or None, not {type(bound).__name__}")
        return apply(cls(min, max), x)

    def forward(self, a):
        # np.clip with a Python float bound would promote float32 to float64 under NumPy 1 rules
        low = None if self.low is None else np.asarray(self.low, dtype=a.dtype)
        high = None if self.high is None else np.asarray(self.high, dtype=a.dtype)
        if low is not None and high is not None and low > high:
            return np.broadcast_to(high, a.shape).copy()  # as PyTorch: min > max gives max everywhere
        return np.clip(a, low, high)

    def backward(self, grad, a, out):
        values = constant(a)
        inside = np.ones(values.shape, dtype=bool)
        if self.low is not None:
            inside &= values >= self.low
        if self.high is not None:
            inside &= values <= self.high
        return grad * inside.astype(values.dtype)

    def describe(self):
        return f"clamp({self.low}, {self.high})"


expose("clip", Clamp.call)


class _Extremum(Op):
    """maximum/minimum: the winner takes the gradient; a tie splits it equally, as in PyTorch."""

    __slots__ = ()
    arity = 2

    def backward(self, grad, a, b, out):
        first, second = constant(a), constant(b)
        wins = self.pick(first, second)
        share_a = np.where(first == second, 0.5, wins).astype(grad.dtype)
        need_a, need_b = self.needs_grad
        return (grad * share_a if need_a else None, grad * (1 - share_a) if need_b else None)


@register("maximum")
class Maximum(_Extremum):
    """The larger of a and b element-wise (NumPy broadcasting); NaN wins, as in PyTorch."""

    __slots__ = ()
    name = "maximum"

    def forward(self, a, b):
        return np.maximum(a, b)

    @staticmethod
    def pick(a, b):
        return a > b


@register("minimum")
class Minimum(_Extremum):
    """The smaller of a and b element-wise (NumPy broadcasting)."""

    __slots__ = ()
    name = "minimum"

    def forward(self, a, b):
        return np.minimum(a, b)

    @staticmethod
    def pick(a, b):
        return a < b
