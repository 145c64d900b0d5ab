"""Functions on tensors that neural networks are built from (PyTorch's `torch.nn.functional`)."""

from __future__ import annotations

import numpy as np

from . import ops
from .random import as_generator
from .tensor import Tensor, _make, apply


def _check_tensor(x, function: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{function}(): expected a Tensor, got {type(x).__name__}; wrap it with tg.tensor()")
    return x


def relu(x: Tensor) -> Tensor:
    """max(x, 0) element-wise."""
    return apply(ops.ReLU(), _check_tensor(x, "relu"))


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent element-wise."""
    return apply(ops.Tanh(), _check_tensor(x, "tanh"))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) element-wise, computed without overflow."""
    return apply(ops.Sigmoid(), _check_tensor(x, "sigmoid"))


def exp(x: Tensor) -> Tensor:
    """e**x element-wise."""
    return apply(ops.Exp(), _check_tensor(x, "exp"))


def log(x: Tensor) -> Tensor:
    """Natural logarithm element-wise."""
    return apply(ops.Log(), _check_tensor(x, "log"))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`; finite for logits like +-1000."""
    return apply(ops.Softmax(axis), _check_tensor(x, "softmax"))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) along `axis`, through log-sum-exp (finite where softmax underflows)."""
    return apply(ops.LogSoftmax(axis), _check_tensor(x, "log_softmax"))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias in one node. x (..., in_features), weight (out_features, in_features), bias (out,)."""
    _check_tensor(x, "linear")
    if bias is None:
        return apply(ops.Linear(), x, weight)
    return apply(ops.Linear(), x, weight, bias)


def cross_entropy(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy between `logits` (N, C) and `target`, as one fused op.

    `target` holds class indices (N,) of an integer dtype, or class probabilities (N, C) of a float dtype
    (one-hot rows included). `reduction` is "mean" (over N), "sum" or "none" (a loss per row).
    The gradient with respect to the logits is `(softmax(logits) - onehot) / N` for "mean".
    """
    _check_tensor(logits, "cross_entropy")
    if reduction not in ops.REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {ops.REDUCTIONS}, not {reduction!r}")
    shape = logits.data.shape
    if len(shape) != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {shape}")
    target = target if isinstance(target, Tensor) else _make(np.asarray(target))
    n, classes = shape
    values = target.data
    kind = values.dtype.kind
    if kind in "iu":
        if values.shape != (n,):
            raise ValueError(
                f"cross_entropy: class-index target must have shape ({n},) for logits {shape}, "
                f"got {values.shape}"
            )
        # Negative indices would silently pick from the end; the op reports those >= classes itself.
        if kind == "i" and n and np.minimum.reduce(values) < 0:
            raise ValueError(
                f"cross_entropy: class indices must lie in [0, {classes}), got values from "
                f"{values.min()} to {values.max()}"
            )
    elif kind == "f":
        if values.shape != shape:
            raise ValueError(
                f"cross_entropy: probability target must have the logits' shape {shape}, got {values.shape}"
            )
        target = target.to(logits.dtype)
    else:
        raise TypeError(
            f"cross_entropy: target must hold class indices (int) or probabilities (float), not {values.dtype}"
        )
    return apply(ops.CrossEntropy(reduction), logits, target)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Inverted dropout: zero each element with probability `p`, scale the kept ones by 1 / (1 - p).

    Recorded as a multiply by a constant mask, so the backward pass applies the very same mask.
    `rng` is a `np.random.Generator` (or an int seed; None uses `tg.random`'s default generator).
    """
    _check_tensor(x, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    data = x.data
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)
    mask = _make(dropout_mask(data.shape, p, rng, dtype))
    mask.name = f"dropout mask (p={p:g})"
    return apply(ops.Mul(), x, mask)


def dropout_mask(shape: tuple, p: float, rng=None, dtype=np.float32) -> np.ndarray:
    """The mask `dropout` multiplies by: 0 with probability `p`, else 1 / (1 - p), drawn from `rng`."""
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    # One draw in the target dtype, one comparison, one scale: no float64 temporaries.
    keep = as_generator(rng).random(shape, dtype=np.dtype(dtype)) >= p
    return np.multiply(keep, 1.0 / (1.0 - p), dtype=dtype)


def l2_penalty(params, lam: float) -> Tensor:
    """`lam / 2 * sum(||w||^2 for w in params)` as a tensor, so its gradient (`lam * w`) comes from the graph."""
    params = list(params)
    if not params:
        raise ValueError("l2_penalty needs at least one parameter")
    for p in params:
        _check_tensor(p, "l2_penalty")
    return apply(ops.L2Penalty(lam), *params)
