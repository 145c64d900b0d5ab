"""Fused losses: softmax cross-entropy through log-sum-exp, and the L2 weight penalty."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from ..tensor import Tensor, _make
from .base import Op
from .generic import constant, log_softmax, multiply, softmax
from .registry import as_input, register

REDUCTIONS = ("mean", "sum", "none")

_row_cache: dict = {}


def _rows(n: int) -> np.ndarray:
    """arange(n), made once per batch size: picking each row's target class needs it every step."""
    rows = _row_cache.get(n)
    if rows is None:
        if len(_row_cache) >= 16:  # many batch sizes (e.g. variable-length batches): keep the cache small
            _row_cache.clear()
        rows = _row_cache[n] = np.arange(n)
        rows.flags.writeable = False
    return rows


@register("cross_entropy", method=False)
class CrossEntropy(Op):
    """Softmax cross-entropy between `logits` (N, C) and `target`, as one fused op.

    `target` holds class indices (N,) of an integer dtype, or class probabilities (N, C) of a float dtype
    (one-hot rows included). `reduction` is "mean" (over N), "sum" or "none" (a loss per row).
    The gradient with respect to the logits is `(softmax(logits) - onehot) / N` for "mean".
    """

    __slots__ = ("reduction",)
    name = "cross_entropy"

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    @classmethod
    def call(cls, logits, target, reduction: str = "mean"):
        as_input(logits, "cross_entropy")
        if reduction not in REDUCTIONS:
            raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, not {reduction!r}")
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
                    f"cross_entropy: probability target must have the logits' shape {shape}, "
                    f"got {values.shape}"
                )
            target = target.to(logits.dtype)
        else:
            raise TypeError(
                "cross_entropy: target must hold class indices (int) or probabilities (float), "
                f"not {values.dtype}"
            )
        return apply(cls(reduction), logits, target)

    def forward(self, logits, target):
        n, classes = logits.shape
        shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
        lse = np.log(np.add.reduce(np.exp(shifted), axis=1, keepdims=True))
        if target.dtype.kind in "iu":
            try:
                picked = shifted[_rows(n), target]
            except IndexError:
                raise ValueError(f"class indices must lie in [0, {classes}), got {target.max()}") from None
            if self.reduction == "none":
                return lse[:, 0] - picked
            total = np.add.reduce(lse, axis=None) - np.add.reduce(picked)
        else:
            losses = np.add.reduce(target * (lse - shifted), axis=1)
            if self.reduction == "none":
                return losses
            total = np.add.reduce(losses)
        return np.asarray(total / n if self.reduction == "mean" else total, dtype=logits.dtype)

    def backward(self, grad, logits, target, out):
        n = logits.shape[0]
        if self.reduction == "none":
            scale = grad.reshape((n, 1))
        elif self.reduction == "mean":
            scale = grad / n
        else:
            scale = grad
        probs = softmax(logits, 1)
        labels = constant(target)
        if labels.dtype.kind in "iu":
            onehot = np.zeros(logits.shape, dtype=logits.dtype)
            onehot[_rows(n), labels] = 1
            return (probs - onehot) * scale, None
        # d/dz of -sum_j t_j log softmax_j = softmax * sum_j t_j - t (= softmax - t for probabilities)
        grad_logits = (probs * target.sum(axis=1, keepdims=True) - target) * scale
        grad_target = -log_softmax(logits, 1) * scale if self.needs_grad[1] else None
        return grad_logits, grad_target

    def describe(self):
        return f"cross_entropy({self.reduction})"


@register("l2_penalty", method=False)
class L2Penalty(Op):
    """`lam / 2 * sum(||w||^2 for w in weights)`: one node over all the weights it penalizes."""

    __slots__ = ("lam",)
    name = "l2_penalty"
    arity = None

    def __init__(self, lam):
        self.lam = float(lam)

    @classmethod
    def call(cls, params, lam: float):
        """`lam / 2 * sum(||w||^2 for w in params)` as a tensor, so its gradient (`lam * w`) is in the graph."""
        params = list(params)
        if not params:
            raise ValueError("l2_penalty needs at least one parameter")
        return apply(cls(lam), *[as_input(p, "l2_penalty") for p in params])

    def forward(self, *weights):
        total = 0.0
        for w in weights:
            total += float(np.vdot(w, w))
        return np.asarray(0.5 * self.lam * total, dtype=np.result_type(*weights))

    def backward(self, grad, *weights, out):
        scale = self.lam * grad
        return tuple(
            multiply(w, scale, out=self.grad_out(i)) if need else None
            for i, (w, need) in enumerate(zip(weights, self.needs_grad))
        )

    def describe(self):
        return f"l2_penalty(lam={self.lam:g})"
