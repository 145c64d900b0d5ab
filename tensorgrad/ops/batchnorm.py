"""Batch normalization, as `torch.nn.functional.batch_norm`.

Training normalizes with the batch's statistics: one fused op (`BatchNormalize`, the affine part
included, forward beside its textbook backward, written with ops). Evaluation uses the running
statistics, which are constants: then batch norm is x * scale + shift, one op (`BatchNormRunning`) that
keeps the running statistics as its inputs, so that a graph reader (the ONNX export) sees a batch norm
and its statistics rather than a product and a sum. Both differentiate to any order.
"""

from __future__ import annotations

import numpy as np

from .. import parallel
from ..autograd.engine import apply
from ..tensor import Tensor, _make
from .base import Op
from .generic import batch_invstd, batch_normalized, channel_sum_of_product
from .registry import as_input, expose, register


@register("batch_normalize", method=False, function=False)
class BatchNormalize(Op):
    """(x - mean) / sqrt(var + eps) * weight + bias, with the batch's mean and biased variance over `axes`
    (all but axis 1); without weight and bias, the normalized x alone.

    One node for what would be a dozen element-wise ones: the forward reads x three times, the backward
    the gradient three times. `self.saved` keeps (mean, biased variance, 1/std, normalized x) of the last
    forward, for the running statistics and the backward.
    """

    __slots__ = ("axes", "eps")
    name = "batch_normalize"

    def __init__(self, axes: tuple, eps: float):
        self.axes = tuple(axes)
        self.eps = eps

    def forward(self, x, weight=None, bias=None):
        # slice by slice of the batch (`tensorgrad.parallel`): the sums, then the centred values and their
        # squares' sums, then the scaling, each pass over a slice while it is in cache
        count, item = x.size // x.shape[1], 2 * x[0].size * x.itemsize
        axes, shape = self.axes, (1, x.shape[1]) + (1,) * (x.ndim - 2)
        divide = np.asarray(count, dtype=x.dtype)
        mean = (
            parallel.sum_over_batch(lambda s, e: x[s:e].sum(axis=axes), x.shape[0], item).reshape(shape)
            / divide
        )
        xhat = np.empty_like(x)

        def center(s, e):
            np.subtract(x[s:e], mean, out=xhat[s:e])
            return channel_sum_of_product(xhat[s:e], xhat[s:e], axes)

        var = parallel.sum_over_batch(center, x.shape[0], item) / divide
        invstd = 1.0 / np.sqrt(var + np.asarray(self.eps, dtype=var.dtype))
        out = xhat if weight is None else np.empty_like(x)
        scale, shift = (None, None) if weight is None else (weight.reshape(shape), bias.reshape(shape))

        def normalize(s, e):
            xhat[s:e] *= invstd
            if scale is not None:
                np.multiply(xhat[s:e], scale, out=out[s:e])
                out[s:e] += shift

        parallel.over_batch(normalize, x.shape[0], item)
        self.saved = (mean, var, invstd, xhat)
        return out

    def backward(self, grad, x, *affine, out):
        # d xhat / dx applied to g: (g - mean(g) - xhat * mean(g * xhat)) / std, with g = grad * weight;
        # the sums it needs are the bias's and the weight's gradients
        invstd = batch_invstd(x, self.axes, self.eps, cache=self.saved[2])
        xhat = batch_normalized(x, self.axes, self.eps, cache=self.saved[3]) if affine else out
        count = float(x.size // x.shape[1])
        scale = invstd * affine[0].reshape(invstd.shape) if affine else invstd
        if all(
            isinstance(v, np.ndarray) for v in (grad, xhat, scale)
        ):  # first order: the formula below, sliced
            sum_grad, sum_grad_xhat, grad_x = _input_grad(grad, xhat, scale, self.axes, self.needs_grad[0])
        else:
            sum_grad = grad.sum(axis=self.axes, keepdims=True)
            sum_grad_xhat = channel_sum_of_product(grad, xhat, self.axes)
            grad_x = None
            if self.needs_grad[0]:
                grad_x = (grad - sum_grad / count - xhat * (sum_grad_xhat / count)) * scale
        if not affine:
            return grad_x
        channels = (x.shape[1],)
        return (
            grad_x,
            sum_grad_xhat.reshape(channels) if self.needs_grad[1] else None,
            sum_grad.reshape(channels) if self.needs_grad[2] else None,
        )

    def describe(self):
        return f"batch_normalize (eps={self.eps:g})"


def _input_grad(grad, xhat, scale, axes: tuple, needed: bool) -> tuple:
    """Batch norm's backward on ndarrays, slice by slice: sum(grad), sum(grad * xhat) (the bias's and the
    weight's gradients, dims kept) and (grad - mean(grad) - xhat * mean(grad * xhat)) * scale (or None)."""
    count = np.asarray(grad.size // grad.shape[1], dtype=grad.dtype)
    item = 2 * grad[0].size * grad.itemsize
    shape = (1, grad.shape[1]) + (1,) * (grad.ndim - 2)

    def sums(s, e):
        return np.stack(
            [grad[s:e].sum(axis=axes), channel_sum_of_product(grad[s:e], xhat[s:e], axes).ravel()]
        )

    sum_grad, sum_grad_xhat = (
        total.reshape(shape) for total in parallel.sum_over_batch(sums, grad.shape[0], item)
    )
    if not needed:
        return sum_grad, sum_grad_xhat, None
    grad_x = np.empty_like(grad)
    mean_grad, mean_grad_xhat = sum_grad / count, sum_grad_xhat / count

    def input_grad(s, e):
        part = grad_x[s:e]
        np.multiply(xhat[s:e], mean_grad_xhat, out=part)
        np.subtract(grad[s:e], part, out=part)
        part -= mean_grad
        part *= scale

    parallel.over_batch(input_grad, grad.shape[0], item)
    return sum_grad, sum_grad_xhat, grad_x


@register("batch_norm_running", method=False, function=False)
class BatchNormRunning(Op):
    """Batch norm with the running statistics: x * scale + shift per channel (axis 1), where
    scale = weight / sqrt(running_var + eps) and shift = bias - running_mean * scale.

    Inputs (x, running_mean, running_var, weight, bias); the statistics are constants (no gradient), read
    when the op runs: `self.saved` keeps (mean, 1/std) of that moment, broadcast over the channel axis, so a
    later update of the buffers does not change this op's backward.
    """

    __slots__ = ("axes", "eps")
    name = "batch_norm_running"

    def __init__(self, axes: tuple, eps: float):
        self.axes = tuple(axes)
        self.eps = eps

    def forward(self, x, running_mean, running_var, weight, bias):
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        invstd = (1.0 / np.sqrt(running_var + self.eps)).astype(x.dtype, copy=False)
        mean = np.array(running_mean, dtype=x.dtype)  # a copy: the buffer may change after this step
        scale = weight * invstd
        shift = bias - mean * scale
        self.saved = (mean.reshape(shape), invstd.reshape(shape))
        return x * scale.reshape(shape) + shift.reshape(shape)

    def backward(self, grad, x, running_mean, running_var, weight, bias, out):
        mean, invstd = self.saved
        needs = self.needs_grad
        grad_x = grad * (weight.reshape(invstd.shape) * invstd) if needs[0] else None
        grad_weight = (grad * ((x - mean) * invstd)).sum(axis=self.axes) if needs[3] else None
        grad_bias = grad.sum(axis=self.axes) if needs[4] else None
        return grad_x, None, None, grad_weight, grad_bias

    def describe(self):
        return f"batch_norm running stats (eps={self.eps:g})"


def batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    """Batch normalization over axis 1 of a (N, C), (N, C, L) or (N, C, H, W) input, as PyTorch's.

    Training: normalize with the batch's mean and biased variance, and, when given, update `running_mean`
    and `running_var` in place: r = (1 - momentum) * r + momentum * batch value, the variance unbiased
    (times n / (n - 1)), as PyTorch does. Evaluation: normalize with the running statistics. `weight` and
    `bias` (C,) scale and shift after normalizing (None: leave out).
    """
    x = as_input(input, "batch_norm")
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input with a channel axis (N, C, ...), got shape {x.shape}"
        )
    channels = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                        ("bias", bias)):  # fmt: skip
        if value is not None and tuple(value.shape) != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},) for an input of shape {x.shape}, "
                f"got {tuple(value.shape)}"
            )
    axes = (0, *range(2, x.ndim))
    if training:
        count = x.size // channels
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape {x.shape}"
            )
        op = BatchNormalize(axes, eps)
        if weight is None and bias is None:
            out = apply(op, x)
        else:  # one of the two alone: the other as a constant
            weight = weight if weight is not None else _make(np.ones(channels, dtype=x.dtype))
            bias = bias if bias is not None else _make(np.zeros(channels, dtype=x.dtype))
            out = apply(op, x, as_input(weight, "batch_norm"), as_input(bias, "batch_norm"))
        mean, var = op.saved[:2]
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(-1), momentum)
        if running_var is not None:
            _update_running(running_var, var.reshape(-1) * (count / (count - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be given in evaluation mode")
        weight = weight if weight is not None else _make(np.ones(channels, dtype=x.dtype))
        bias = bias if bias is not None else _make(np.zeros(channels, dtype=x.dtype))
        return apply(
            BatchNormRunning(axes, eps),
            x,
            _statistic(running_mean),
            _statistic(running_var),
            as_input(weight, "batch_norm"),
            as_input(bias, "batch_norm"),
        )
    return out


def _array(value) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _statistic(value) -> Tensor:
    """A running statistic as an input of `BatchNormRunning`: the buffer itself (so that a graph reader can
    name it), or a constant around its data (no gradient flows into running statistics)."""
    if isinstance(value, Tensor) and not value.requires_grad:
        return value
    return _make(np.asarray(_array(value)))


def _update_running(running, batch_value: np.ndarray, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * batch_value, in place (a buffer keeps its array)."""
    data = _array(running)
    data *= 1.0 - momentum
    data += momentum * batch_value.astype(data.dtype, copy=False)


expose("batch_norm", batch_norm, method=False)
