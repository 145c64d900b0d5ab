"""2-D convolution as three bilinear ops that differentiate into one another, so it has derivatives of any order.

    conv2d(x, W)         -> y    gradients: conv2d_input(g, W), conv2d_weight(x, g)
    conv2d_input(g, W)   -> dx   gradients: conv2d(gx, W),      conv2d_weight(gx, g)
    conv2d_weight(x, g)  -> dW   gradients: conv2d_input(g, gW), conv2d(x, gW)

(each line: the op, then the gradients of its two inputs given the gradient of its output). The NumPy
kernels are in `windows`, each run slice by slice of the batch on every core (`tensorgrad.parallel`): a
convolution is one strided im2col copy and one matrix product per slice; the input gradient kH*kW
products, each followed by a strided add (col2im); the weight gradient one product per slice with the
slice's im2col matrix made again.
"""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from . import windows
from .base import Op
from .generic import conv2d, conv2d_input, conv2d_weight
from .registry import as_input, register
from .windows import Geometry, pair


def conv_geometry(weight_shape: tuple, stride, padding, dilation, groups) -> Geometry:
    """PyTorch's conv2d arguments as a Geometry; `padding` may be an int, a pair, "valid" or "same"."""
    kernel = tuple(weight_shape[2:])
    stride, dilation = pair(stride, "conv2d: stride"), pair(dilation, "conv2d: dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0), (0, 0))
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
            # as PyTorch: the total padding d*(k-1), the odd one out at the bottom / right
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in totals)
        else:
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', not {padding!r}")
    else:
        ph, pw = pair(padding, "conv2d: padding")
        pads = ((ph, ph), (pw, pw))
    if min(stride) < 1 or min(dilation) < 1 or min(min(p) for p in pads) < 0:
        raise ValueError(
            f"conv2d: stride and dilation must be positive and padding non-negative, got stride={stride}, "
            f"padding={padding}, dilation={dilation}"
        )
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    return Geometry(kernel, stride, dilation, pads, int(groups))


def check_conv_shapes(x_shape, weight_shape, bias_shape, geometry: Geometry) -> None:
    if len(x_shape) != 4:
        raise ValueError(f"conv2d: expected a (N, C, H, W) or (C, H, W) input, got shape {x_shape}")
    if len(weight_shape) != 4:
        raise ValueError(
            f"conv2d: weight must be (out_channels, in_channels/groups, kH, kW), got {weight_shape}"
        )
    groups = geometry.groups
    out_channels, group_channels = weight_shape[:2]
    if out_channels % groups:
        raise ValueError(
            f"conv2d: out_channels {out_channels} (weight {weight_shape}) is not divisible by groups={groups}"
        )
    if x_shape[1] != group_channels * groups:
        raise ValueError(
            f"conv2d: weight of shape {weight_shape} with groups={groups} expects an input with "
            f"{group_channels * groups} channels, but the input has shape {x_shape}"
        )
    if bias_shape is not None and bias_shape != (out_channels,):
        raise ValueError(f"conv2d: bias must have shape ({out_channels},), got {bias_shape}")
    (top, bottom), (left, right) = geometry.padding
    padded = (x_shape[2] + top + bottom, x_shape[3] + left + right)
    span = tuple(d * (k - 1) + 1 for d, k in zip(geometry.dilation, geometry.kernel))
    if padded[0] < span[0] or padded[1] < span[1]:
        raise ValueError(
            f"conv2d: the kernel spans {span} (dilation included) but the padded input is only {padded} "
            f"(input {x_shape})"
        )


@register("conv2d", method=False)
class Conv2d(Op):
    """2-D convolution as `torch.nn.functional.conv2d`: x (N, C, H, W), weight (O, C/groups, kH, kW), bias (O,).

    `stride`, `dilation` and `padding` are ints or (h, w) pairs (`padding` also "valid" or "same"); the output
    is (N, O, Ho, Wo) with Ho = (H + 2*pad - dilation*(kH - 1) - 1) // stride + 1. A (C, H, W) input gives a
    (O, Ho, Wo) output.
    """

    __slots__ = ("geometry",)
    name = "conv2d"

    def __init__(self, geometry: Geometry):
        self.geometry = geometry

    @classmethod
    def call(cls, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        x = as_input(input, "conv2d")
        weight = as_input(weight, "conv2d")
        if weight.ndim != 4:
            raise ValueError(
                f"conv2d: weight must be (out_channels, in_channels/groups, kH, kW), got {weight.shape}"
            )
        if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
            dtypes = ", ".join(str(t.dtype) for t in (x, weight, bias) if t is not None)
            raise TypeError(f"conv2d: input, weight and bias must have one dtype, got {dtypes}")
        geometry = conv_geometry(weight.shape, stride, padding, dilation, groups)
        unbatched = x.ndim == 3
        if unbatched:
            x = x.reshape(1, *x.shape)
        check_conv_shapes(x.shape, weight.shape, None if bias is None else bias.shape, geometry)
        inputs = (x, weight) if bias is None else (x, weight, as_input(bias, "conv2d"))
        out = apply(cls(geometry), *inputs)
        return out.reshape(out.shape[1:]) if unbatched else out

    def forward(self, x, weight, bias=None):
        return windows.conv2d(x, weight, self.geometry, bias)

    def backward(self, grad, x, weight, *bias, out):
        needs = self.needs_grad
        grad_x = conv2d_input(grad, weight, self.geometry, x.shape) if needs[0] else None
        grad_w = conv2d_weight(x, grad, self.geometry, weight.shape) if needs[1] else None
        if not bias:
            return grad_x, grad_w
        return grad_x, grad_w, (grad.sum(axis=(0, 2, 3)) if needs[2] else None)

    def describe(self):
        return f"conv2d {self.geometry.describe()}"


@register("conv2d_input", method=False, function=False)
class Conv2dInput(Op):
    """conv2d's gradient with respect to its input, from the output gradient and the weight (a transposed
    convolution); `input_shape` is the convolution input's shape."""

    __slots__ = ("geometry", "input_shape")
    name = "conv2d_input"
    arity = 2

    def __init__(self, geometry: Geometry, input_shape: tuple):
        self.geometry = geometry
        self.input_shape = tuple(input_shape)

    def forward(self, grad, weight):
        return windows.conv2d_input(grad, weight, self.geometry, self.input_shape)

    def backward(self, grad_x, grad, weight, out):
        needs = self.needs_grad
        return (
            conv2d(grad_x, weight, self.geometry) if needs[0] else None,
            conv2d_weight(grad_x, grad, self.geometry, weight.shape) if needs[1] else None,
        )

    def describe(self):
        return f"conv2d input grad {self.geometry.describe()}"


@register("conv2d_weight", method=False, function=False)
class Conv2dWeight(Op):
    """conv2d's gradient with respect to its weight, from the input and the output gradient."""

    __slots__ = ("geometry", "weight_shape")
    name = "conv2d_weight"
    arity = 2

    def __init__(self, geometry: Geometry, weight_shape: tuple):
        self.geometry = geometry
        self.weight_shape = tuple(weight_shape)

    def forward(self, x, grad):
        return windows.conv2d_weight(x, grad, self.geometry, self.weight_shape)

    def backward(self, grad_w, x, grad, out):
        needs = self.needs_grad
        return (
            conv2d_input(grad, grad_w, self.geometry, x.shape) if needs[0] else None,
            conv2d(x, grad_w, self.geometry) if needs[1] else None,
        )

    def describe(self):
        return f"conv2d weight grad {self.geometry.describe()}"
