"""NumPy kernels of convolution and pooling over (N, C, H, W) arrays: strided windows and matrix products.

Nothing here records or knows about Tensors; the ops in `convolution` and `pooling` (and the functions of
`generic` that their derivatives are written with) call these on ndarrays.

Layout: a convolution works channels-last. The windows of a (N, H, W, C) array are read by one strided
copy into a (N*Ho*Wo, kH*kW*C) matrix ("im2col"), whose rows meet the weight matrix in one product; for a
3x3 kernel with stride 1 the copy moves runs of kW*C contiguous numbers. The product comes out as
(N, Ho, Wo, O), and is handed on as its (N, O, Ho, Wo) view, without a copy: NumPy's element-wise
functions keep an input's memory order, so the next batch norm, ReLU and convolution read it channels-last
again, and nothing pays for converting back and forth.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pair(value, name: str) -> tuple:
    """An int or a pair of ints as a pair (PyTorch's `_pair`), each checked to be an int."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(values[0]), int(values[1])


class Geometry(NamedTuple):
    """How a kernel slides: per spatial axis (H, W) its size, stride, dilation and padding before/after."""

    kernel: tuple
    stride: tuple
    dilation: tuple
    padding: tuple  # ((top, bottom), (left, right))
    groups: int = 1

    def output_size(self, height: int, width: int) -> tuple:
        sizes = []
        for size, k, s, d, (before, after) in zip(
            (height, width), self.kernel, self.stride, self.dilation, self.padding
        ):
            sizes.append((size + before + after - d * (k - 1) - 1) // s + 1)
        return tuple(sizes)

    @property
    def padded(self) -> bool:
        return any(before or after for before, after in self.padding)

    def describe(self) -> str:
        parts = [f"{self.kernel[0]}x{self.kernel[1]}"]
        if self.stride != (1, 1):
            parts.append(f"stride {_short(self.stride)}")
        if self.padded:
            parts.append(f"pad {_short(tuple(b for b, _ in self.padding))}")
        if self.dilation != (1, 1):
            parts.append(f"dilation {_short(self.dilation)}")
        if self.groups != 1:
            parts.append(f"groups {self.groups}")
        return ", ".join(parts)


def _short(values: tuple):
    return values[0] if values[0] == values[1] else values


def channels_last_padded(x: np.ndarray, padding, fill=0.0) -> np.ndarray:
    """(N, C, H, W) -> (N, H + pads, W + pads, C), contiguous, the border filled with `fill`.

    Without padding and with channels-last memory already (a convolution's output) this is no copy at all.
    """
    (top, bottom), (left, right) = padding
    nhwc = x.transpose(0, 2, 3, 1)
    if not (top or bottom or left or right):
        return np.ascontiguousarray(nhwc)
    n, h, w, c = nhwc.shape
    out = np.empty((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
    # fill only the border: the inside is overwritten next
    out[:, :top] = fill
    out[:, top + h :] = fill
    out[:, top : top + h, :left] = fill
    out[:, top : top + h, left + w :] = fill
    out[:, top : top + h, left : left + w] = nhwc
    return out


def im2col(x: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The windows of x (N, C, H, W) as a (groups, N*Ho*Wo, kH*kW*C/groups) matrix, columns ordered (kH, kW, c)."""
    padded = channels_last_padded(x, geometry.padding)
    n, _, _, c = padded.shape
    g = geometry.groups
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    ho, wo = geometry.output_size(x.shape[2], x.shape[3])
    bn, bh, bw, bc = padded.strides
    windows = as_strided(
        padded,
        shape=(g, n, ho, wo, kh, kw, c // g),
        strides=(bc * (c // g), bn, bh * sh, bw * sw, bh * dh, bw * dw, bc),
        writeable=False,
    )
    # the one copy of the forward pass: NumPy merges the contiguous (kW, C) runs of each window row
    return windows.reshape(g, n * ho * wo, kh * kw * (c // g))


def weight_matrix(weight: np.ndarray, groups: int) -> np.ndarray:
    """(O, C/groups, kH, kW) -> (groups, kH*kW*C/groups, O/groups), rows ordered as im2col's columns."""
    o, cg, kh, kw = weight.shape
    by_group = weight.reshape(groups, o // groups, cg, kh, kw)
    return by_group.transpose(0, 3, 4, 2, 1).reshape(groups, kh * kw * cg, o // groups)


def _grad_matrix(grad: np.ndarray, groups: int) -> np.ndarray:
    """An output gradient (N, O, Ho, Wo) as (groups, N*Ho*Wo, O/groups); no copy for channels-last memory."""
    n, o, ho, wo = grad.shape
    rows = grad.transpose(0, 2, 3, 1).reshape(n * ho * wo, groups, o // groups)
    return rows.transpose(1, 0, 2)


def _to_nchw(product: np.ndarray, n: int, ho: int, wo: int) -> np.ndarray:
    """A (groups, N*Ho*Wo, O/groups) product as (N, O, Ho, Wo): a view of channels-last memory for one group."""
    g, _, og = product.shape
    if g == 1:
        return product[0].reshape(n, ho, wo, og).transpose(0, 3, 1, 2)
    return product.reshape(g, n, ho, wo, og).transpose(1, 0, 4, 2, 3).reshape(n, g * og, ho, wo)


def conv2d(x: np.ndarray, weight: np.ndarray, geometry: Geometry, bias=None, cols=None):
    """The convolution (cross-correlation, as PyTorch's) and the im2col matrix it used (for the backward)."""
    n = x.shape[0]
    ho, wo = geometry.output_size(x.shape[2], x.shape[3])
    if cols is None:
        cols = im2col(x, geometry)
    product = np.matmul(cols, weight_matrix(weight, geometry.groups))
    if bias is not None:
        product += bias.reshape(geometry.groups, 1, -1).astype(product.dtype, copy=False)
    return _to_nchw(product, n, ho, wo), cols


def conv2d_input(grad: np.ndarray, weight: np.ndarray, geometry: Geometry, input_shape: tuple) -> np.ndarray:
    """The gradient of conv2d with respect to its input (a transposed convolution): col2im of grad @ W.T.

    The window matrix product gives every window's share; adding the kH*kW slices back at their offsets
    (one strided add per kernel position, none per pixel) sums the shares of overlapping windows.
    """
    n, c, h, w = input_shape
    g = geometry.groups
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    (top, bottom), (left, right) = geometry.padding
    _, _, ho, wo = grad.shape
    shares = np.matmul(_grad_matrix(grad, g), weight_matrix(weight, g).transpose(0, 2, 1))
    shares = shares.reshape(g, n, ho, wo, kh, kw, c // g).transpose(4, 5, 1, 2, 3, 0, 6)
    dtype = np.result_type(grad.dtype, weight.dtype)
    padded = np.zeros((n, h + top + bottom, w + left + right, g, c // g), dtype=dtype)
    for p in range(kh):
        rows = slice(p * dh, p * dh + sh * (ho - 1) + 1, sh)
        for q in range(kw):
            padded[:, rows, q * dw : q * dw + sw * (wo - 1) + 1 : sw] += shares[p, q]
    inside = padded[:, top : top + h, left : left + w].reshape(n, h, w, c)
    return inside.transpose(0, 3, 1, 2)


def conv2d_weight(
    x: np.ndarray, grad: np.ndarray, geometry: Geometry, weight_shape: tuple, cols=None
) -> np.ndarray:
    """The gradient of conv2d with respect to its weight: im2col(x).T @ grad, one product per group.

    `cols` is the forward's im2col matrix of `x`, when it kept it: the same numbers, without a second copy.
    """
    if cols is None:
        cols = im2col(x, geometry)
    product = np.matmul(cols.transpose(0, 2, 1), _grad_matrix(grad, geometry.groups))
    o, cg, kh, kw = weight_shape
    g = geometry.groups
    return product.reshape(g, kh, kw, cg, o // g).transpose(0, 4, 3, 1, 2).reshape(o, cg, kh, kw)


# ----- pooling


def pool_windows(padded: np.ndarray, geometry: Geometry, out_hw: tuple):
    """The (kH*kW) strided views (N, C, Ho, Wo) of a padded (N, C, Hp, Wp) array, one per kernel offset, in
    row-major order of the window."""
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    ho, wo = out_hw
    for p in range(kh):
        for q in range(kw):
            yield padded[
                :, :, p * dh : p * dh + sh * (ho - 1) + 1 : sh, q * dw : q * dw + sw * (wo - 1) + 1 : sw
            ]


def pad_nchw(x: np.ndarray, padding, fill) -> np.ndarray:
    (top, bottom), (left, right) = padding
    if not (top or bottom or left or right):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


def max_pool2d(x: np.ndarray, geometry: Geometry):
    """Max pooling, and the flat index (into each H*W plane) of the element each output took.

    Ties go to the first maximum of the window in row-major order, as PyTorch's CPU kernel picks it; the
    padding is -inf, so it never wins over a real number.
    """
    h, w = x.shape[2:]
    ho, wo = geometry.output_size(h, w)
    padded = pad_nchw(x, geometry.padding, -np.inf)
    views = list(pool_windows(padded, geometry, (ho, wo)))
    best = views[0].copy(order="K")  # keeps a channels-last input channels-last
    for view in views[1:]:
        np.maximum(best, view, out=best)
    # Which offset held the maximum: the first match, found by walking the offsets backwards.
    which = np.full(best.shape, len(views) - 1, dtype=np.int16 if len(views) > 127 else np.int8)
    for k in range(len(views) - 2, -1, -1):
        which[views[k] == best] = k
    kw = geometry.kernel[1]
    (sh, sw), (dh, dw), ((top, _), (left, _)) = geometry.stride, geometry.dilation, geometry.padding
    which = which.astype(np.int64)
    rows = (np.arange(ho) * sh - top)[:, None] + (which // kw) * dh
    cols = (np.arange(wo) * sw - left) + (which % kw) * dw
    # a window whose real elements are all -inf (or NaN) may have matched in the padding: keep it inside
    np.clip(rows, 0, h - 1, out=rows)
    np.clip(cols, 0, w - 1, out=cols)
    rows *= w
    rows += cols
    return best, rows


def plane_offsets(shape: tuple) -> np.ndarray:
    """(N, C, 1, 1): where each (n, c) plane of a (N, C, H, W) array starts in its flat storage."""
    n, c, h, w = shape
    return (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)


def avg_pool2d(x: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Average pooling over zero-padded windows, the padding counted in the divisor (count_include_pad)."""
    ho, wo = geometry.output_size(x.shape[2], x.shape[3])
    views = pool_windows(pad_nchw(x, geometry.padding, 0), geometry, (ho, wo))
    total = next(views).copy()
    for view in views:
        total += view
    total *= np.asarray(1.0 / (geometry.kernel[0] * geometry.kernel[1]), dtype=total.dtype)
    return total


def avg_pool2d_adjoint(grad: np.ndarray, geometry: Geometry, input_shape: tuple) -> np.ndarray:
    """The adjoint of `avg_pool2d` (its input gradient): each output's share spread back over its window."""
    n, c, h, w = input_shape
    (top, bottom), (left, right) = geometry.padding
    share = grad * np.asarray(1.0 / (geometry.kernel[0] * geometry.kernel[1]), dtype=grad.dtype)
    padded = np.zeros((n, c, h + top + bottom, w + left + right), dtype=grad.dtype)
    for view in pool_windows(padded, geometry, grad.shape[2:]):
        view += share  # a view of `padded`: the add lands there
    return padded[:, :, top : top + h, left : left + w]
