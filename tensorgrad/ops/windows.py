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

from .. import parallel


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
            symmetric = all(before == after for before, after in self.padding)
            # uneven padding (ceil_mode's, a "same" convolution's) in full: (top, bottom), (left, right)
            parts.append(f"pad {_short(tuple(b for b, _ in self.padding)) if symmetric else self.padding}")
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
    if c // g > 1:
        # the one copy of the forward pass: NumPy merges the contiguous (kW, C) runs of each window row
        return windows.reshape(g, n * ho * wo, kh * kw * (c // g))
    # one channel a group (a grey image's first convolution, a depthwise one): a window row is then only kW
    # numbers, so one copy per kernel offset, whose runs are rows of the image, is about 3x faster
    cols = np.empty((g, n, ho, wo, kh, kw), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            cols[..., p, q] = windows[..., p, q, 0]
    return cols.reshape(g, n * ho * wo, kh * kw)


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


def transposed_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a.T @ b for a (k, m) and b (k, n) that share a long k (the pixels of a batch), as (m, n).

    Computed as a.T @ b or as (b.T @ a).T, whichever puts the longer side first: on two threads
    OpenBLAS takes seconds instead of milliseconds for the other orientation (a (9, k) @ (k, 32)
    product with k = 100,352 took 5 s against 10 ms).
    """
    if a.shape[1] >= b.shape[1]:
        return a.T @ b
    return (b.T @ a).T


def _to_nchw(product: np.ndarray, n: int, ho: int, wo: int) -> np.ndarray:
    """A (groups, N*Ho*Wo, O/groups) product as (N, O, Ho, Wo): a view of channels-last memory for one group."""
    g, _, og = product.shape
    if g == 1:
        return product[0].reshape(n, ho, wo, og).transpose(0, 3, 1, 2)
    return product.reshape(g, n, ho, wo, og).transpose(1, 0, 4, 2, 3).reshape(n, g * og, ho, wo)


def conv2d(x: np.ndarray, weight: np.ndarray, geometry: Geometry, bias=None) -> np.ndarray:
    """The convolution (cross-correlation, as PyTorch's).

    Slice by slice of the batch (`parallel.over_batch`): each slice's im2col matrix meets the weights in
    one product per group, written straight into its rows of the output, while the matrix is in cache.
    """
    n, g = x.shape[0], geometry.groups
    ho, wo = geometry.output_size(x.shape[2], x.shape[3])
    weights = weight_matrix(weight, g)  # (g, kH*kW*C/g, O/g)
    dtype = np.result_type(x.dtype, weight.dtype)
    product = np.empty((g, n * ho * wo, weights.shape[2]), dtype=dtype)
    shift = None if bias is None else bias.reshape(g, 1, -1).astype(dtype, copy=False)
    pixels = ho * wo

    def rows(start, stop):
        cols = im2col(x[start:stop], geometry)
        for group in range(g):  # groups, not pixels: a handful of large products
            out = product[group, start * pixels : stop * pixels]
            np.matmul(cols[group], weights[group], out=out)
            if shift is not None:
                out += shift[group]

    parallel.over_batch(rows, n, pixels * (weights.shape[1] * g + weights.shape[2] * g) * dtype.itemsize)
    return _to_nchw(product, n, ho, wo)


def conv2d_input(grad: np.ndarray, weight: np.ndarray, geometry: Geometry, input_shape: tuple) -> np.ndarray:
    """The gradient of conv2d with respect to its input (a transposed convolution).

    With stride 1 (and padding within the kernel's reach) it is `conv2d` of the gradient with the flipped
    kernel. Otherwise col2im-style: per slice of the batch, group and kernel offset (p, q), one matrix
    product gives every window's share at that offset, (N*Ho*Wo, O/g) @ (O/g, C/g), into a contiguous
    buffer, and one strided add puts it back at its place (none per pixel). One product for all offsets at
    once, sliced afterwards, measured 1.6 times slower: each slice of it is then a strided read.
    """
    n, c, h, w = input_shape
    g = geometry.groups
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    (top, bottom), (left, right) = geometry.padding
    _, o, ho, wo = grad.shape
    reach_h, reach_w = dh * (kh - 1), dw * (kw - 1)
    if (sh, sw) == (1, 1) and max(top, bottom) <= reach_h and max(left, right) <= reach_w:
        # With stride 1 this is a convolution of the gradient with the kernel flipped and its channel axes
        # swapped, padded by the kernel's reach less the padding: one product per slice, where the offsets
        # below take kH*kW thin ones (conv2's and a 7x7 conv's gradient: 6-18% faster).
        flipped = weight.reshape(g, o // g, c // g, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
        padding = ((reach_h - top, reach_h - bottom), (reach_w - left, reach_w - right))
        return conv2d(grad, flipped.reshape(c, o // g, kh, kw), geometry._replace(padding=padding))
    dtype = np.result_type(grad.dtype, weight.dtype)
    # (g, kH, kW, O/g, C/g): the offset's weights as the right-hand side of the product
    taps = np.ascontiguousarray(
        weight.reshape(g, o // g, c // g, kh, kw).transpose(0, 3, 4, 1, 2), dtype=dtype
    )
    padded = np.empty((n, h + top + bottom, w + left + right, g, c // g), dtype=dtype)

    def shares(start, stop):
        rows = _grad_matrix(grad[start:stop], g)  # (g, B*Ho*Wo, O/g)
        target = padded[start:stop]
        target[...] = 0
        share = np.empty((stop - start, ho, wo, c // g), dtype=dtype)
        flat = share.reshape(-1, c // g)
        for group in range(g):  # groups and kernel offsets, not pixels
            for p in range(kh):
                rows_at = slice(p * dh, p * dh + sh * (ho - 1) + 1, sh)
                for q in range(kw):
                    np.matmul(rows[group], taps[group, p, q], out=flat)
                    target[:, rows_at, q * dw : q * dw + sw * (wo - 1) + 1 : sw, group] += share

    parallel.over_batch(shares, n, (ho * wo * (o + c) + padded[0].size) * dtype.itemsize)
    inside = padded[:, top : top + h, left : left + w].reshape(n, h, w, c)
    return inside.transpose(0, 3, 1, 2)


def conv2d_weight(x: np.ndarray, grad: np.ndarray, geometry: Geometry, weight_shape: tuple) -> np.ndarray:
    """The gradient of conv2d with respect to its weight: im2col(x).T @ grad, one product per group, summed
    over the slices of the batch (each slice's im2col matrix made again, in cache, rather than kept)."""
    g = geometry.groups
    o, cg, kh, kw = weight_shape
    ho, wo = grad.shape[2:]
    dtype = np.result_type(x.dtype, grad.dtype)

    def partial(start, stop):
        cols = im2col(x[start:stop], geometry)
        grad_rows = _grad_matrix(grad[start:stop], g)
        return np.stack([transposed_product(cols[group], grad_rows[group]) for group in range(g)])

    item = ho * wo * (kh * kw * cg + o // g) * g * dtype.itemsize
    product = parallel.sum_over_batch(partial, x.shape[0], item).astype(dtype, copy=False)
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


def tiled_windows(x: np.ndarray, geometry: Geometry):
    """x (N, C, H, W) as a (N, C, Ho, kH, Wo, kW) view, axes 3 and 5 running over each window, when the
    windows tile x exactly (no padding or dilation, stride = kernel, sides divisible by it); else None.

    A view of any memory order: channels-last x stays channels-last, and a window's rows stay runs of
    kW*C (channels-last) or kW (channels-first) contiguous numbers.
    """
    if geometry.padded or not _tiles(geometry, x.shape[2:], geometry.output_size(*x.shape[2:])):
        return None
    n, c, h, w = x.shape
    (kh, kw), (bn, bc, bh, bw) = geometry.kernel, x.strides
    return as_strided(
        x, shape=(n, c, h // kh, kh, w // kw, kw), strides=(bn, bc, bh * kh, bh, bw * kw, bw), writeable=False
    )


def max_pool2d(x: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Max pooling; the padding is -inf, so it never wins over a real number (NaN propagates).

    The output keeps x's memory order (channels-last stays channels-last); run slice by slice of the batch.
    """
    n, c = x.shape[:2]
    out = empty_in_order_of(x, (n, c, *geometry.output_size(*x.shape[2:])), x.dtype)
    tiles = tiled_windows(x, geometry)

    def pool(start, stop):
        if tiles is not None:
            # the rows of each window first: in channels-last memory a maximum of long contiguous runs (W*C
            # numbers), which halves what the strided maximum over the columns then reads
            rows = _maximum_of(tiles[start:stop, :, :, p] for p in range(tiles.shape[3]))
            _maximum_of((rows[..., q] for q in range(tiles.shape[5])), out=out[start:stop])
        else:
            padded = pad_nchw(x[start:stop], geometry.padding, -np.inf)
            _maximum_of(pool_windows(padded, geometry, out.shape[2:]), out=out[start:stop])

    parallel.over_batch(pool, n, (x[0].size + out[0].size) * x.itemsize)
    return out


def is_channels_last(x: np.ndarray) -> bool:
    """Whether (N, C, H, W) `x` is laid out channels-last (N, H, W, C) in memory; never for one channel,
    whose two orders are the same memory."""
    return x.shape[1] > 1 and x.transpose(0, 2, 3, 1).flags.c_contiguous


def as_channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) `x` with channels-last memory: itself if it is, else a copy."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def empty_in_order_of(like: np.ndarray, shape: tuple, dtype) -> np.ndarray:
    """An empty (N, C, H, W) array of `shape`, channels-last in memory if `like` (N, C, ...) is."""
    if is_channels_last(like):
        n, c, h, w = shape
        return np.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)
    return np.empty(shape, dtype=dtype)


def _maximum_of(views, out=None) -> np.ndarray:
    """The element-wise maximum of an iterable of arrays, into `out` or into a new array in the memory order
    of the first."""
    views = iter(views)
    first, second = next(views), next(views, None)
    if second is None:
        if out is None:
            return first.copy(order="K")
        np.copyto(out, first)
        return out
    best = np.maximum(first, second, out=out)
    for view in views:
        np.maximum(best, view, out=best)
    return best


def max_pool2d_masks(x: np.ndarray, out: np.ndarray, geometry: Geometry) -> list:
    """One boolean mask per kernel offset (row-major in the window): where that offset holds the element each
    output of max pooling took, the first maximum of the window as PyTorch's CPU kernel picks it.

    Found from the input and the output when a gradient needs them (an evaluation pass never pays).
    """
    # NaN padding never equals anything: a window of -inf real numbers matches its first real one
    views = pool_windows(pad_nchw(x, geometry.padding, np.nan), geometry, out.shape[2:])
    first = np.equal(next(views), out, out=np.empty_like(out, dtype=np.bool_))
    masks, taken = [first], first.copy()
    for view in views:
        mask = np.equal(view, out, out=np.empty_like(out, dtype=np.bool_))
        np.greater(mask, taken, out=mask)  # mask and not taken: an earlier offset already matched
        taken |= mask
        masks.append(mask)
    return masks


class TiledMask(NamedTuple):
    """Which element of each window max pooling took, when the windows tile the input: a boolean array of
    the input's shape and memory order, True at one element per window (`max_pool2d_choice` makes it)."""

    mask: np.ndarray


def max_pool2d_choice(x: np.ndarray, out: np.ndarray, geometry: Geometry):
    """Which element each output of max pooling took: a `TiledMask` when the windows tile x, else the
    per-offset masks of `max_pool2d_masks`. Either is what `window_scatter` and `window_gather` take.

    Tiling windows need one comparison of x with its window's maximum, two passes over x, where the
    per-offset masks take three passes over the output per kernel offset; the first maximum of a window in
    row-major order is kept of a tie, as PyTorch's CPU kernel does.
    """
    tiles = tiled_windows(x, geometry)
    if tiles is None:
        return max_pool2d_masks(x, out, geometry)
    mask = np.empty_like(x, dtype=np.bool_)  # x's memory order

    def choose(start, stop):
        picks, best = _writable_tiles(mask[start:stop], geometry), out[start:stop]
        np.equal(tiles[start:stop], best[:, :, :, None, :, None], out=picks)
        # one match in every window, unless there are ties (or a NaN window, which matches nothing)
        if np.count_nonzero(mask[start:stop]) != best.size or np.isnan(best).any():
            offsets = [(p, q) for p in range(picks.shape[3]) for q in range(picks.shape[5])]
            # in the picks' memory order (channels-last, for a convolution's output): else every pass strides
            taken = picks[:, :, :, 0, :, 0].copy(order="K")
            for p, q in offsets[1:]:
                pick = picks[:, :, :, p, :, q]
                np.greater(pick, taken, out=pick)  # pick and not taken: an earlier element matched
                if (p, q) != offsets[-1]:
                    taken |= pick

    parallel.over_batch(choose, x.shape[0], x[0].size * (x.itemsize + 1))
    return TiledMask(mask)


def _writable_tiles(x: np.ndarray, geometry: Geometry) -> np.ndarray:
    """tiled_windows(x, geometry), writable: for arrays made to be written through it."""
    tiles = tiled_windows(x, geometry)
    return as_strided(x, shape=tiles.shape, strides=tiles.strides)


def _overlapping(geometry: Geometry) -> bool:
    """True when an input element can fall in more than one window."""
    return any(s < d * (k - 1) + 1 for k, s, d in zip(geometry.kernel, geometry.stride, geometry.dilation))


def _tiles(geometry: Geometry, padded_hw: tuple, out_hw: tuple) -> bool:
    """True when the windows cover every element of the padded input exactly once."""
    return all(
        s == k and d == 1 and size == out * k
        for k, s, d, size, out in zip(geometry.kernel, geometry.stride, geometry.dilation, padded_hw, out_hw)
    )


def window_scatter(grad: np.ndarray, masks: list, geometry: Geometry, input_shape: tuple,
                   channels_last: bool = False) -> np.ndarray:  # fmt: skip
    """A zero (N, C, H, W) array with each grad[n, c, i, j] added at the element of window (i, j) that
    `masks` pick (one boolean mask per kernel offset, as `max_pool2d_masks` makes them): max pooling's input
    gradient. One strided pass per kernel offset, none per pixel.

    `channels_last` lays the result out in memory as the pooling's input was, so that the backward of the
    layer below (a ReLU's mask, a batch norm) meets two arrays of one memory order.
    """
    if isinstance(masks, TiledMask):
        return _tiled_scatter(grad, masks.mask, geometry)
    n, c, h, w = input_shape
    (top, bottom), (left, right) = geometry.padding
    hp, wp = h + top + bottom, w + left + right
    overlapping = _overlapping(geometry)
    # windows that tile the input exactly (2x2 pooling with stride 2 of an even side) write every element
    fresh = np.empty if _tiles(geometry, (hp, wp), grad.shape[2:]) else np.zeros
    if channels_last:
        padded = fresh((n, hp, wp, c), dtype=grad.dtype).transpose(0, 3, 1, 2)
        # the masks are channels-last too: a gradient in another order would make every pass a strided one
        grad = as_channels_last(grad)
    else:
        padded = fresh((n, c, hp, wp), dtype=grad.dtype)
    for mask, view in zip(masks, pool_windows(padded, geometry, grad.shape[2:])):
        if overlapping:
            view += grad * mask
        else:  # each input element is in one window at most: write straight into it
            np.multiply(grad, mask, out=view)
    return padded[:, :, top : top + h, left : left + w]


def _tiled_scatter(grad: np.ndarray, mask: np.ndarray, geometry: Geometry) -> np.ndarray:
    """window_scatter for a TiledMask: each window's gradient where its mask is True, in the mask's memory
    order; one pass, since tiling windows write every element once."""
    if is_channels_last(mask):  # a channels-last mask reads a channels-last gradient
        grad = as_channels_last(grad)
    out = np.empty_like(mask, dtype=grad.dtype)

    def scatter(start, stop):
        picks = tiled_windows(mask[start:stop], geometry)
        np.multiply(
            grad[start:stop, :, :, None, :, None], picks, out=_writable_tiles(out[start:stop], geometry)
        )

    parallel.over_batch(scatter, mask.shape[0], mask[0].size * (grad.itemsize + 1))
    return out


def window_gather(x: np.ndarray, masks: list, geometry: Geometry) -> np.ndarray:
    """x (N, C, H, W) at the element of each window that `masks` pick: window_scatter's adjoint."""
    if isinstance(masks, TiledMask):
        picked = np.where(masks.mask, x, np.zeros((), dtype=x.dtype))
        return tiled_windows(picked, geometry).sum(axis=(3, 5))
    views = pool_windows(pad_nchw(x, geometry.padding, 0), geometry, masks[0].shape[2:])
    out = np.zeros(masks[0].shape, dtype=x.dtype)
    for mask, view in zip(masks, views):
        out += view * mask
    return out


def plane_index(masks: list, geometry: Geometry, input_shape: tuple) -> np.ndarray:
    """Flat indices into each H*W plane of the elements `masks` pick (max_pool2d's return_indices)."""
    h, w = input_shape[2:]
    kw = geometry.kernel[1]
    (sh, sw), (dh, dw), ((top, _), (left, _)) = geometry.stride, geometry.dilation, geometry.padding
    which = sum(k * mask.astype(np.int64) for k, mask in enumerate(masks))
    rows = (np.arange(which.shape[2]) * sh - top)[:, None] + (which // kw) * dh
    cols = (np.arange(which.shape[3]) * sw - left) + (which % kw) * dw
    return np.clip(rows, 0, h - 1) * w + np.clip(cols, 0, w - 1)


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
