"""2-D pooling over (N, C, H, W) as `torch.nn.functional`: max, average and adaptive average pooling.

Each differentiates to any order. Max pooling's gradient puts each output's gradient on the element it took
(`window_scatter`), and that op's own gradient picks those elements again (`window_gather`).
Average pooling is linear: its gradient is its adjoint (`avg_pool2d_adjoint`), whose gradient is average
pooling once more. Adaptive average pooling is two products with constant averaging matrices.
"""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from ..tensor import Tensor, _make
from . import windows
from .base import Op
from .generic import avg_pool2d, avg_pool2d_adjoint, constant, window_gather, window_scatter
from .registry import as_input, expose, register
from .windows import Geometry, pair


def pool_geometry(function: str, kernel_size, stride, padding, dilation=1) -> Geometry:
    """PyTorch's pooling arguments as a Geometry; `stride` None means the kernel size, as in PyTorch."""
    kernel = pair(kernel_size, f"{function}: kernel_size")
    stride = kernel if stride is None or stride == () else pair(stride, f"{function}: stride")
    pads = pair(padding, f"{function}: padding")
    dilation = pair(dilation, f"{function}: dilation")
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(pads) < 0:
        raise ValueError(
            f"{function}: kernel_size, stride and dilation must be positive and padding non-negative, got "
            f"kernel_size={kernel_size}, stride={stride}, padding={padding}, dilation={dilation}"
        )
    if pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
        raise ValueError(
            f"{function}: padding {padding} must be at most half of the kernel size {kernel_size}"
        )
    return Geometry(kernel, stride, dilation, ((pads[0], pads[0]), (pads[1], pads[1])))


def _batched(x: Tensor, function: str, geometry: Geometry, ceil_mode: bool = False) -> tuple:
    """The input as (N, C, H, W) (a (C, H, W) input gets a batch axis), whether it had none, and the
    geometry, with `ceil_padding` when `ceil_mode`."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{function}: expected a (N, C, H, W) or (C, H, W) input, got shape {x.shape}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.reshape(1, *x.shape)
    if ceil_mode:
        geometry = ceil_padding(geometry, x.shape[2:])
    ho, wo = geometry.output_size(*x.shape[2:])
    if ho < 1 or wo < 1:
        raise ValueError(f"{function}: the input of shape {x.shape} is too small for {geometry.describe()}")
    return x, unbatched, geometry


def ceil_padding(geometry: Geometry, size_hw: tuple) -> Geometry:
    """`geometry` with as much more bottom and right padding as PyTorch's ceil_mode=True adds windows: the
    output size rounded up, less a last window that would start in the right padding (PyTorch's rule)."""
    padding = []
    for size, k, s, d, (before, after) in zip(
        size_hw, geometry.kernel, geometry.stride, geometry.dilation, geometry.padding
    ):
        reach = d * (k - 1) + 1
        out = -(-(size + before + after - reach) // s) + 1
        if (out - 1) * s >= size + before:
            out -= 1
        padding.append((before, after + max(0, (out - 1) * s + reach - (size + before + after))))
    return geometry._replace(padding=tuple(padding))


def _unbatched(out: Tensor, unbatched: bool) -> Tensor:
    return out.reshape(out.shape[1:]) if unbatched else out


@register("max_pool2d", method=False)
class MaxPool2d(Op):
    """The maximum of each window, as `torch.nn.functional.max_pool2d`; the padding is -inf.

    `ceil_mode=True` rounds the output size up (`ceil_padding`: more -inf padding at the bottom and right).

    When a window's maximum is tied, its gradient goes to one element, the first maximum of the window in
    row-major order, as PyTorch's CPU kernel does (not shared among the tied ones, as `max` shares it).
    `return_indices=True` also returns the flat index into each H*W plane of the element each output took.
    """

    __slots__ = ("geometry",)
    name = "max_pool2d"

    def __init__(self, geometry: Geometry):
        self.geometry = geometry

    @classmethod
    def call(
        cls, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
    ):
        geometry = pool_geometry("max_pool2d", kernel_size, stride, padding, dilation)
        x, unbatched, geometry = _batched(as_input(input, "max_pool2d"), "max_pool2d", geometry, ceil_mode)
        out = apply(cls(geometry), x)
        if return_indices:
            masks = windows.max_pool2d_masks(x.data, out.data, geometry)
            indices = _make(windows.plane_index(masks, geometry, x.shape))
            return _unbatched(out, unbatched), _unbatched(indices, unbatched)
        return _unbatched(out, unbatched)

    def forward(self, x):
        return windows.max_pool2d(x, self.geometry)

    def backward(self, grad, x, out):
        # which element was each window's maximum is piecewise constant: a constant to any order
        values = constant(x)
        masks = windows.max_pool2d_choice(values, constant(out), self.geometry)
        return window_scatter(grad, masks, self.geometry, x.shape, windows.is_channels_last(values))

    def describe(self):
        return f"max_pool2d {self.geometry.describe()}"


@register("window_scatter", method=False, function=False)
class WindowScatter(Op):
    """max_pool2d's input gradient: grad put at the element of each window that `masks` pick (constant:
    boolean masks, one per kernel offset, or one `windows.TiledMask` when the windows tile the input)."""

    __slots__ = ("channels_last", "geometry", "input_shape", "masks")
    name = "window_scatter"

    def __init__(self, masks, geometry: Geometry, input_shape: tuple, channels_last: bool = False):
        self.masks, self.geometry, self.input_shape = masks, geometry, tuple(input_shape)
        self.channels_last = channels_last

    def forward(self, grad):
        return windows.window_scatter(grad, self.masks, self.geometry, self.input_shape, self.channels_last)

    def backward(self, grad, a, out):
        return window_gather(grad, self.masks, self.geometry)


@register("window_gather", method=False, function=False)
class WindowGather(Op):
    """The element of each window that `masks` pick (window_scatter's adjoint)."""

    __slots__ = ("geometry", "masks")
    name = "window_gather"

    def __init__(self, masks, geometry: Geometry):
        self.masks, self.geometry = masks, geometry

    def forward(self, x):
        return windows.window_gather(x, self.masks, self.geometry)

    def backward(self, grad, x, out):
        return window_scatter(grad, self.masks, self.geometry, x.shape)


@register("avg_pool2d", method=False)
class AvgPool2d(Op):
    """The mean of each window, as `torch.nn.functional.avg_pool2d`.

    The op divides each window's sum by the kernel's size, its zero padding counted; a call whose divisor
    is another (`count_include_pad=False`, the windows `ceil_mode=True` adds past the padding, a
    `divisor_override`) multiplies that by a constant (Ho, Wo) map of kernel size / PyTorch's divisor.
    """

    __slots__ = ("geometry",)
    name = "avg_pool2d"

    def __init__(self, geometry: Geometry):
        self.geometry = geometry

    @classmethod
    def call(
        cls, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
        divisor_override=None,
    ):  # fmt: skip
        given = pool_geometry("avg_pool2d", kernel_size, stride, padding)
        if divisor_override is not None and (
            isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer))
            or divisor_override < 1
        ):  # fmt: skip
            raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got {divisor_override!r}")
        x, unbatched, geometry = _batched(as_input(input, "avg_pool2d"), "avg_pool2d", given, ceil_mode)
        out = apply(cls(geometry), x)
        scale = _divisor_scale(given, x.shape[2:], out.shape[2:], count_include_pad, divisor_override)
        if scale is not None:
            out = out * _make(scale.astype(out.dtype))
        return _unbatched(out, unbatched)

    def forward(self, x):
        return windows.avg_pool2d(x, self.geometry)

    def backward(self, grad, x, out):
        return avg_pool2d_adjoint(grad, self.geometry, x.shape)

    def describe(self):
        return f"avg_pool2d {self.geometry.describe()}"


def _divisor_scale(given: Geometry, size_hw: tuple, out_hw: tuple, count_include_pad: bool, divisor_override):
    """(Ho, Wo) kernel size / PyTorch's divisor of each window (None if they are all 1): a window
    counts the padding `given` asks for (not ceil_mode's) if `count_include_pad`, else its input cells
    alone; `divisor_override` replaces both."""
    kernel_size = given.kernel[0] * given.kernel[1]
    if divisor_override is not None:
        divisor = np.full(out_hw, float(divisor_override))
    else:
        sides = []
        for size, out, k, s, (pad, _) in zip(size_hw, out_hw, given.kernel, given.stride, given.padding):
            start = np.arange(out) * s - pad
            end = np.minimum(start + k, size + pad)
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, size)
            sides.append(end - start)
        divisor = np.outer(*sides).astype(np.float64)
    if np.all(divisor == kernel_size):
        return None
    return kernel_size / divisor


@register("avg_pool2d_adjoint", method=False, function=False)
class AvgPool2dAdjoint(Op):
    """avg_pool2d's input gradient: each output's share spread evenly over its window (`input_shape`)."""

    __slots__ = ("geometry", "input_shape")
    name = "avg_pool2d_adjoint"

    def __init__(self, geometry: Geometry, input_shape: tuple):
        self.geometry = geometry
        self.input_shape = tuple(input_shape)

    def forward(self, grad):
        return windows.avg_pool2d_adjoint(grad, self.geometry, self.input_shape)

    def backward(self, grad, a, out):
        return avg_pool2d(grad, self.geometry)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a given output size, as `torch.nn.functional.adaptive_avg_pool2d`.

    Output cell i of an axis of size n averages input cells floor(i*n/out) to ceil((i+1)*n/out) (exclusive),
    PyTorch's rule. `output_size` is an int or a pair; None in it keeps that axis's size.
    """
    x = as_input(input, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_avg_pool2d: expected a (N, C, H, W) or (C, H, W) input, got shape {x.shape}"
        )
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}")
    height, width = x.shape[-2:]
    out_h, out_w = (height if sizes[0] is None else sizes[0]), (width if sizes[1] is None else sizes[1])
    if not all(isinstance(s, (int, np.integer)) and s >= 1 for s in (out_h, out_w)):
        raise ValueError(
            f"adaptive_avg_pool2d: output_size must hold positive ints or None, got {output_size!r}"
        )
    if height % out_h == 0 and width % out_w == 0:  # equal windows that tile the input: plain average pooling
        kernel = (height // out_h, width // out_w)
        return AvgPool2d.call(x, kernel, kernel)
    rows = _averaging_matrix(height, int(out_h), x.dtype)
    cols = _averaging_matrix(width, int(out_w), x.dtype)
    return _make(rows) @ x @ _make(np.ascontiguousarray(cols.T))


def _averaging_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size): row i averages the cells PyTorch's adaptive pooling gives output i."""
    matrix = np.zeros((out, size), dtype=dtype if np.dtype(dtype).kind == "f" else np.float32)
    for i in range(out):  # out rows of a small constant matrix, not a loop over pixels
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


expose("adaptive_avg_pool2d", adaptive_avg_pool2d, method=False)
