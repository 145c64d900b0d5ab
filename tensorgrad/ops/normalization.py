"""Vector norms and the normalizations built on them: `norm`, `F.normalize`, `F.layer_norm`."""

from __future__ import annotations

import math

import numpy as np

from ..autograd.engine import apply
from ..tensor import _make
from .generic import abs, constant, sign, where
from .reductions import _Reduction, normalize_axis
from .registry import FUNCTIONS, as_input, expose


class Norm(_Reduction):
    """The p-norm (sum |x|^p)^(1/p) over `axis`, for a finite p > 0; its gradient at 0 is 0, as in PyTorch."""

    __slots__ = ("p",)
    name = "norm"

    def __init__(self, p, axis, keepdims):
        super().__init__(axis, keepdims)
        self.p = p

    def forward(self, a):
        if self.p == 2:
            return np.sqrt(np.add.reduce(a * a, axis=self.axis, keepdims=self.keepdims))
        power = np.add.reduce(np.abs(a) ** a.dtype.type(self.p), axis=self.axis, keepdims=self.keepdims)
        return power ** a.dtype.type(1 / self.p)

    def backward(self, grad, a, out):
        # d/dx_i ||x||_p = sign(x_i) |x_i|^(p-1) / ||x||^(p-1); taken as 0 where x_i = 0 or ||x|| = 0
        zero = constant(out) == 0
        if self.p == 2:
            scale = where(zero, 0.0, grad / where(zero, 1.0, out))
            return self.kept(scale, a.shape) * a
        if self.p == 1:
            return self.kept(grad, a.shape) * sign(a)
        exponent = self.p - 1
        scale = where(zero, 0.0, grad / where(zero, 1.0, out) ** exponent)
        magnitude = where(constant(a) == 0, 1.0, abs(a)) ** exponent
        return self.kept(scale, a.shape) * (magnitude * sign(a))

    def describe(self):
        return f"norm(p={self.p:g}, axis={self.axis})"


def norm(x, p="fro", dim=None, keepdim: bool = False):
    """The vector p-norm over `dim` (None: all elements), as `torch.norm`.

    `p` is "fro" or 2 (the Euclidean norm), any other positive number, inf (max |x|), -inf (min |x|) or 0
    (the count of non-zero elements, which has no gradient).
    """
    x = as_input(x, "norm")
    if x.dtype.kind not in "fc":
        raise TypeError(f"norm() needs a floating-point tensor, not dtype {x.dtype}")
    if p == "fro":
        p = 2
    if isinstance(p, str) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise ValueError(
            f"norm(): p must be 'fro' or a number, not {p!r} (matrix norms such as 'nuc' are not supported)"
        )
    axis = normalize_axis(dim, x.ndim)
    if p == math.inf:
        return abs(x).amax(axis, keepdim)
    if p == -math.inf:
        return abs(x).amin(axis, keepdim)
    if p == 0:
        count = np.add.reduce(x.data != 0, axis=axis, keepdims=keepdim)
        return _make(np.asarray(count, dtype=x.dtype))
    if p < 0:
        raise ValueError(f"norm(): p must be positive, 0 or +-inf, not {p}")
    return apply(Norm(float(p), axis, bool(keepdim)), x)


expose("norm", norm)


def normalize(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """`x / max(||x||_p, eps)` along `dim`, as `torch.nn.functional.normalize`."""
    x = as_input(x, "normalize")
    return x / norm(x, p, dim, keepdim=True).clamp(min=eps)


expose("normalize", normalize, method=False)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalize over the last `len(normalized_shape)` axes to mean 0 and variance 1 (the biased variance),
    then scale by `weight` and shift by `bias` (both of `normalized_shape`), as `torch.nn.functional.layer_norm`.
    """
    x = as_input(x, "layer_norm")
    shape = (
        (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    )
    if not shape or tuple(x.shape[x.ndim - len(shape) :]) != shape or len(shape) > x.ndim:
        raise ValueError(
            f"layer_norm(): normalized_shape {shape} must be the last axes of the input's shape {x.shape}"
        )
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != shape:
            raise ValueError(
                f"layer_norm(): {name} of shape {tuple(param.shape)} must have normalized_shape {shape}"
            )
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    out = centered * (FUNCTIONS["var"](x, axes, keepdim=True, correction=0) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


expose("layer_norm", layer_norm, method=False)
