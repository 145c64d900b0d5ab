"""The activations of current models, as `torch.nn.functional` has them: leaky_relu, gelu, silu, softplus."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from .base import Op
from .generic import constant, erf, exp, sigmoid, tanh
from .registry import as_input, register
from .special import erf_array

_INV_SQRT_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SQRT_2_OVER_PI = 0.7978845608028654
_GELU_TANH_CUBIC = 0.044715


@register("leaky_relu", method=False)
class LeakyReLU(Op):
    """x where x > 0, else negative_slope * x; at exactly 0 the gradient is negative_slope, as in PyTorch."""

    __slots__ = ("negative_slope",)
    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = float(negative_slope)

    def forward(self, a):
        return np.where(a > 0, a, a * np.asarray(self.negative_slope, dtype=a.dtype))

    def backward(self, grad, a, out):
        values = constant(a)
        slope = np.where(values > 0, 1.0, self.negative_slope).astype(values.dtype)
        return grad * slope

    def describe(self):
        return f"leaky_relu({self.negative_slope:g})"


@register("gelu", method=False)
class GELU(Op):
    """x * Phi(x), Phi the standard normal CDF; `approximate="tanh"` uses PyTorch's tanh formula instead."""

    __slots__ = ("approximate",)
    name = "gelu"

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', not {approximate!r}")
        self.approximate = approximate

    def forward(self, a):
        if self.approximate == "tanh":
            inner = (a + a * a * a * _GELU_TANH_CUBIC) * _SQRT_2_OVER_PI
            return a * (np.tanh(inner) + 1) * 0.5
        return a * (erf_array(a * _INV_SQRT_2) + 1) * 0.5

    def backward(self, grad, a, out):
        if self.approximate == "tanh":
            squared = a * a
            t = tanh((a + a * squared * _GELU_TANH_CUBIC) * _SQRT_2_OVER_PI)
            d_inner = (squared * (3 * _GELU_TANH_CUBIC) + 1) * _SQRT_2_OVER_PI
            return grad * ((t + 1) * 0.5 + a * (1 - t * t) * d_inner * 0.5)
        cdf = (erf(a * _INV_SQRT_2) + 1) * 0.5
        pdf = exp(a * a * -0.5) * _INV_SQRT_2PI
        return grad * (cdf + a * pdf)

    def describe(self):
        return "gelu" if self.approximate == "none" else "gelu(tanh)"


@register("silu", method=False)
class SiLU(Op):
    """x * sigmoid(x) (also called swish)."""

    __slots__ = ()
    name = "silu"

    def forward(self, a):
        return a * np.exp(-np.logaddexp(0, -a))

    def backward(self, grad, a, out):
        s = sigmoid(a)
        return grad * (s + a * s * (1 - s))


@register("softplus", method=False)
class Softplus(Op):
    """log(1 + exp(beta x)) / beta, without overflow; x itself where beta x > threshold, as in PyTorch."""

    __slots__ = ("beta", "threshold")
    name = "softplus"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta = float(beta)
        self.threshold = float(threshold)

    @classmethod
    def call(cls, x, beta: float = 1.0, threshold: float = 20.0):
        if beta == 0:
            raise ValueError("softplus(): beta must not be 0")
        return apply(cls(beta, threshold), as_input(x, "softplus"))

    def forward(self, a):
        scaled = a * np.asarray(self.beta, dtype=a.dtype)
        soft = np.logaddexp(np.zeros((), dtype=a.dtype), scaled) / np.asarray(self.beta, dtype=a.dtype)
        return np.where(scaled > self.threshold, a, soft)

    def backward(self, grad, a, out):
        linear = constant(a) * self.beta > self.threshold
        # d/dx log(1 + exp(beta x)) / beta = sigmoid(beta x); 1 on the linear part
        slope = sigmoid(a * self.beta)
        return grad * (slope * (~linear).astype(grad.dtype) + linear.astype(grad.dtype))

    def describe(self):
        return "softplus" if (self.beta, self.threshold) == (1.0, 20.0) else f"softplus(beta={self.beta:g})"
