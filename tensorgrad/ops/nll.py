"""Negative log-likelihood and the full `cross_entropy`: class weights, ignored targets, label smoothing
and extra axes (N, C, d1, ...), with PyTorch's weighted-mean rule.

The plain case - (N, C) logits, class indices or probabilities, no options - stays the one fused op of
`losses.CrossEntropy`; everything else is log_softmax plus picking, written with ops.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _make
from .losses import REDUCTIONS, CrossEntropy
from .registry import as_input, expose


def _class_axis(input) -> int:
    return 1 if input.ndim >= 2 else 0


def _weights(weight, classes: int, dtype, function: str):
    if weight is None:
        return None
    if isinstance(weight, str):  # the old cross_entropy(logits, target, reduction) order
        raise TypeError(
            f"{function}(): the third argument is weight, as in PyTorch; pass reduction={weight!r} by keyword"
        )
    values = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if values.shape != (classes,):
        raise ValueError(
            f"{function}(): weight must have one entry per class, shape ({classes},), got {values.shape}"
        )
    return values


def _check_reduction(reduction: str, function: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{function}(): reduction must be one of {REDUCTIONS}, not {reduction!r}")


def _index_target(input, target, ignore_index: int, function: str) -> tuple:
    """The class indices (ignored ones replaced by 0) and the mask of those that count."""
    values = np.asarray(target.data if isinstance(target, Tensor) else target)
    if values.dtype.kind not in "iu":
        raise TypeError(f"{function}(): class-index target must be integers, not {values.dtype}")
    axis = _class_axis(input)
    expected = input.shape[:axis] + input.shape[axis + 1 :]
    if values.shape != expected:
        raise ValueError(
            f"{function}(): target of shape {values.shape} does not fit input {input.shape}; expected {expected}"
        )
    counted = values != ignore_index
    classes = input.shape[axis]
    chosen = values[counted]
    if chosen.size and (chosen.min() < 0 or chosen.max() >= classes):
        raise ValueError(
            f"{function}(): class indices must lie in [0, {classes}) (or be ignore_index={ignore_index}), "
            f"got values from {chosen.min()} to {chosen.max()}"
        )
    return np.where(counted, values, 0), counted


def _picked(log_probs, classes_index: np.ndarray):
    """log_probs[n, target[n], d1, ...]: each position's entry of its target class."""
    axis = _class_axis(log_probs)
    grids = np.indices(classes_index.shape, sparse=True) if classes_index.ndim else ()
    index = (*grids[:axis], classes_index, *grids[axis:])
    return log_probs[index]


def _weighted_total(loss, scale: np.ndarray, reduction: str):
    """Sum or weighted mean of per-position losses that already carry their weights (`scale` per position)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    denominator = float(scale.sum())  # PyTorch's weighted mean: divide by the weights of the counted targets
    return total * (1.0 / denominator if denominator else float("nan"))


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """-input[n, target[n]] for log-probabilities `input` (N, C) or (N, C, d1, ...) or (C,), weighted by
    `weight[target]`; targets equal to `ignore_index` count for nothing. "mean" divides by the summed
    weights of the counted targets, as `torch.nn.functional.nll_loss`."""
    input = as_input(input, "nll_loss")
    _check_reduction(reduction, "nll_loss")
    if input.ndim == 0:
        raise ValueError("nll_loss(): input must have a class axis, got a 0-d tensor")
    classes = input.shape[_class_axis(input)]
    weights = _weights(weight, classes, input.dtype, "nll_loss")
    index, counted = _index_target(input, target, ignore_index, "nll_loss")
    scale = (
        counted.astype(input.dtype)
        if weights is None
        else np.where(counted, weights[index], 0).astype(input.dtype)
    )
    return _weighted_total(-_picked(input, index) * scale, scale, reduction)


def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Softmax cross-entropy of logits `input` (N, C), (N, C, d1, ...) or (C,) against class indices or
    class probabilities, as `torch.nn.functional.cross_entropy`: `weight` per class, `ignore_index`,
    `label_smoothing` in [0, 1], and "mean" as the weighted mean over the counted targets.
    The gradient of the plain case is `(softmax(logits) - onehot) / N`, computed by one fused op; so is
    that of class indices with label smoothing, whose targets are then the probabilities
    `(1 - label_smoothing) * onehot + label_smoothing / C` (the same loss as PyTorch's definition)."""
    if weight is None and isinstance(input, Tensor) and input.data.ndim == 2:
        values = target.data if isinstance(target, Tensor) else np.asarray(target)
        kind = values.dtype.kind
        # the fused op, unless a target may be ignored (it refuses negative indices itself)
        fused = kind not in "iu" or (
            ignore_index < 0 and (values.size == 0 or np.minimum.reduce(values, axis=None) >= 0)
        )
        if fused:
            if label_smoothing == 0.0:
                return CrossEntropy.call(input, target, reduction)
            smoothed = _smoothed_targets(values, input.data.shape, label_smoothing, input.dtype)
            if smoothed is not None:
                return CrossEntropy.call(input, smoothed, reduction)
    return _general_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def _smoothed_targets(values: np.ndarray, shape: tuple, smoothing: float, dtype) -> np.ndarray | None:
    """Class indices `values` as label-smoothed probabilities for (N, C) logits; None where the general path
    must handle (or report) them: probability targets, a wrong shape, indices out of range, smoothing
    outside (0, 1]."""
    n, classes = shape
    if values.dtype.kind not in "iu" or values.shape != (n,) or not n or not 0.0 < smoothing <= 1.0:
        return None
    if np.maximum.reduce(values, axis=None) >= classes:
        return None
    targets = np.full(shape, smoothing / classes, dtype=dtype)
    targets[np.arange(n), values] += np.asarray(1.0 - smoothing, dtype=dtype)
    return targets


def _general_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
    input = as_input(input, "cross_entropy")
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy(): input must have a class axis, got a 0-d tensor")
    axis = _class_axis(input)
    classes = input.shape[axis]
    log_probs = input.log_softmax(axis)
    weights = _weights(weight, classes, input.dtype, "cross_entropy")
    along_classes = [1] * input.ndim
    along_classes[axis] = classes
    target = target if isinstance(target, Tensor) else _make(np.asarray(target))
    if target.dtype.kind == "f":  # class probabilities
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy(): probability target must have the input's shape {input.shape}, got {target.shape}"
            )
        probabilities = target.to(input.dtype)
        if label_smoothing:
            probabilities = probabilities * (1 - label_smoothing) + label_smoothing / classes
        terms = log_probs * probabilities
        if weights is not None:
            terms = terms * weights.reshape(along_classes)
        loss = -terms.sum(axis=axis)
        if reduction == "mean":  # PyTorch divides by the positions, whatever the weights
            return (
                loss.sum() * (1.0 / max(loss.data.size, 1)) if loss.data.size else loss.sum() * float("nan")
            )
        return loss.sum() if reduction == "sum" else loss
    index, counted = _index_target(input, target, ignore_index, "cross_entropy")  # errors in this name
    loss = nll_loss(log_probs, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return loss
    # the smoothing term: the (weighted) mean of -log p over all classes, masked where the target is ignored
    weighted = log_probs if weights is None else log_probs * weights.reshape(along_classes)
    smooth = -weighted.sum(axis=axis) * counted.astype(input.dtype)
    if weights is None:
        scale = counted.astype(input.dtype)
    else:
        scale = np.where(counted, weights[index], 0).astype(input.dtype)
    smooth = _weighted_total(smooth, scale, reduction)
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)


expose("nll_loss", nll_loss, method=False)
expose("cross_entropy", cross_entropy, method=False)
