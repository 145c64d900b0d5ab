"""Convolution and pooling layers (PyTorch's `nn.Conv2d`, `nn.MaxPool2d`, `nn.AvgPool2d`, `nn.AdaptiveAvgPool2d`)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..ops.windows import pair
from ..tensor import Tensor
from .init import initial_parameters
from .layers import _as_tensor
from .module import Module
from .parameter import Parameter


class Conv2d(Module):
    """2-D convolution over (N, C, H, W): weight (out_channels, in_channels/groups, kH, kW), bias (out_channels,).

    Arguments as `torch.nn.Conv2d` (zero padding only). `init="torch"` (the default) is PyTorch's
    initialization, weight and bias uniform in +-1/sqrt(fan_in) with fan_in = in_channels/groups * kH * kW;
    `init="he"` draws the weight He normal and zeroes the bias, the paper's recipe for ReLU networks.
    `rng` (a Generator or a seed) draws the initial values.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, rng=None, dtype=np.float32, init: str = "torch"):  # fmt: skip
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by "
                f"groups ({groups})"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        self.stride = pair(stride, "Conv2d: stride")
        self.padding = padding if isinstance(padding, str) else pair(padding, "Conv2d: padding")
        self.dilation = pair(dilation, "Conv2d: dilation")
        self.groups = groups
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        weight, bias_values = initial_parameters(init, shape, bias, rng, dtype)
        self.weight = Parameter(weight)
        self.bias = Parameter(bias_values) if bias else None

    def forward(self, x) -> Tensor:
        return F.conv2d(
            _as_tensor(x), self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        )
        if self.padding not in ((0, 0), "valid"):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """Max pooling (`F.max_pool2d`); a tied window's gradient goes to its first maximum, as in PyTorch.
    `return_indices=True` also returns each output's flat index into its input plane."""

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False
    ):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(
            _as_tensor(x), self.kernel_size, self.stride, self.padding, self.dilation,
            ceil_mode=self.ceil_mode, return_indices=self.return_indices,
        )  # fmt: skip

    def extra_repr(self) -> str:
        stride = self.kernel_size if self.stride is None else self.stride
        return (
            f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}, dilation={self.dilation}, "
            f"ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Average pooling (`F.avg_pool2d`; by default zero padding counted in the divisor, output size rounded
    down)."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):  # fmt: skip
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode = ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x) -> Tensor:
        return F.avg_pool2d(
            _as_tensor(x), self.kernel_size, self.stride, self.padding,
            self.ceil_mode, self.count_include_pad, self.divisor_override,
        )  # fmt: skip

    def extra_repr(self) -> str:
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (`F.adaptive_avg_pool2d`), e.g. 1 for global pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x) -> Tensor:
        return F.adaptive_avg_pool2d(_as_tensor(x), self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
