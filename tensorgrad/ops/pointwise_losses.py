"""Losses that compare input and target element by element: regression (mse, l1, smooth l1, Huber) and
binary cross-entropy, with PyTorch's names, arguments and reductions ("mean", "sum", "none").

Each is a short tensor expression, so its gradient - to any order - comes from the ops it is made of.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..autograd.engine import apply
from .base import Op
from .generic import constant, where
from .registry import FUNCTIONS, as_input, expose, operand

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(loss, reduction: str, function: str):
    """The per-element `loss` averaged, summed or returned as it is."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{function}(): reduction must be one of {REDUCTIONS}, not {reduction!r}")


def _pair(input, target, function: str):
    """input and target as tensors; as PyTorch, a target of another shape broadcasts, with a warning."""
    input = as_input(input, function)
    target = operand(target, input)
    if target.shape != input.shape:
        warnings.warn(
            f"{function}(): target size {target.shape} differs from input size {input.shape}; they will be "
            "broadcast, which is rarely what is meant",
            UserWarning,
            stacklevel=3,
        )
    return input, target


def mse_loss(input, target, reduction: str = "mean"):
    """(input - target)^2, reduced; as `torch.nn.functional.mse_loss`."""
    input, target = _pair(input, target, "mse_loss")
    difference = input - target
    return reduce_loss(difference * difference, reduction, "mse_loss")


def l1_loss(input, target, reduction: str = "mean"):
    """|input - target|, reduced; as `torch.nn.functional.l1_loss` (its gradient at 0 is 0)."""
    input, target = _pair(input, target, "l1_loss")
    return reduce_loss((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); l1 for beta = 0."""
    input, target = _pair(input, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must not be negative, got {beta}")
    difference = input - target
    size = difference.abs()
    if beta == 0:
        return reduce_loss(size, reduction, "smooth_l1_loss")
    quadratic = constant(size) < beta
    loss = where(quadratic, difference * difference * (0.5 / beta), size - 0.5 * beta)
    return reduce_loss(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); as `torch.nn.functional.huber_loss`."""
    input, target = _pair(input, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss(): delta must be positive, got {delta}")
    difference = input - target
    size = difference.abs()
    quadratic = constant(size) < delta
    loss = where(quadratic, difference * difference * 0.5, (size - 0.5 * delta) * delta)
    return reduce_loss(loss, reduction, "huber_loss")


class _ClampedLog(Op):
    """log(x), limited below to -100 as PyTorch's binary cross-entropy limits it (log 0 would be -inf)."""

    __slots__ = ()
    name = "clamped_log"

    def forward(self, a):
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(a), -100)

    def backward(self, grad, a, out):
        inside = constant(out) > -100
        return where(inside, grad, 0.0) / where(inside, a, 1.0)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """-w (t log p + (1 - t) log(1 - p)) for probabilities p = input in [0, 1], each log at least -100,
    as `torch.nn.functional.binary_cross_entropy`."""
    input, target = _pair(input, target, "binary_cross_entropy")
    values = input.data
    if values.size and not (
        np.minimum.reduce(values, axis=None) >= 0 and np.maximum.reduce(values, axis=None) <= 1
    ):
        raise ValueError(
            "binary_cross_entropy(): input must hold probabilities in [0, 1]; for logits use "
            "binary_cross_entropy_with_logits"
        )
    loss = -(target * apply(_ClampedLog(), input) + (1 - target) * apply(_ClampedLog(), 1 - input))
    if weight is not None:
        loss = loss * operand(weight, input)
    return reduce_loss(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """Binary cross-entropy of sigmoid(input) computed from the logits themselves, finite for any logit:
    (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), times `weight`; as PyTorch's function of that name.
    `pos_weight` weighs the positive term per class (it broadcasts along the last axis)."""
    input, target = _pair(input, target, "binary_cross_entropy_with_logits")
    # softplus without its linear cut-off: log(1 + exp(z)) exactly, through logaddexp
    softplus_of_minus_x = FUNCTIONS["softplus"](-input, 1.0, np.inf)
    if pos_weight is None:
        loss = (1 - target) * input + softplus_of_minus_x
    else:
        log_weight = (operand(pos_weight, input) - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_of_minus_x
    if weight is not None:
        loss = loss * operand(weight, input)
    return reduce_loss(loss, reduction, "binary_cross_entropy_with_logits")


for _function in (
    mse_loss,
    l1_loss,
    smooth_l1_loss,
    huber_loss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
):
    expose(_function.__name__, _function, method=False)
del _function
