"""Fused losses: softmax cross-entropy through log-sum-exp, and the L2 weight penalty."""

from __future__ import annotations

import numpy as np

from .base import Op

REDUCTIONS = ("mean", "sum", "none")

_row_cache: dict = {}


def _rows(n: int) -> np.ndarray:
    """arange(n), made once per batch size: picking each row's target class needs it twice a step."""
    rows = _row_cache.get(n)
    if rows is None:
        if len(_row_cache) >= 16:  # many batch sizes (e.g. variable-length batches): keep the cache small
            _row_cache.clear()
        rows = _row_cache[n] = np.arange(n)
        rows.flags.writeable = False
    return rows


class CrossEntropy(Op):
    """Cross-entropy of softmax(logits) against class indices (N,) or class probabilities (N, C).

    One node: the loss goes through log-sum-exp, and the gradient is `(softmax - target) / N` for "mean".
    """

    __slots__ = ("reduction",)
    name = "cross_entropy"

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def forward(self, logits, target):
        n, classes = logits.shape
        shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
        exp = np.exp(shifted)
        sum_exp = np.add.reduce(exp, axis=1, keepdims=True)
        lse = np.log(sum_exp)
        self.saved = (shifted, exp, sum_exp, lse, target)
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

    def backward(self, grad):
        shifted, exp, sum_exp, lse, target = self.saved
        n = shifted.shape[0]
        if self.reduction == "none":
            scale = grad[:, None]
        elif self.reduction == "mean":
            scale = float(grad) / n  # a Python float keeps float32 gradients float32
        else:
            scale = float(grad)
        grad_target = -(shifted - lse) * scale if self.needs_grad[1] else None
        probs = exp / sum_exp
        if target.dtype.kind in "iu":
            probs[_rows(n), target] -= 1
        else:
            # d/dz of -sum_j t_j log softmax_j = softmax * sum_j t_j - t (= softmax - t for probabilities)
            probs *= np.add.reduce(target, axis=1, keepdims=True)
            probs -= target
        probs *= scale
        return probs, grad_target

    def describe(self):
        return f"cross_entropy({self.reduction})"


class L2Penalty(Op):
    """`lam / 2 * sum(||w||^2 for w in weights)`: one node over all the weights it penalizes."""

    __slots__ = ("lam",)
    name = "l2_penalty"

    def __init__(self, lam):
        self.lam = float(lam)

    def forward(self, *weights):
        self.saved = weights
        total = 0.0
        for w in weights:
            total += float(np.vdot(w, w))
        return np.asarray(0.5 * self.lam * total, dtype=np.result_type(*weights))

    def backward(self, grad):
        scale = self.lam * grad
        # straight into the optimizer's gradient buffers where there are some (out=None: a new array)
        return tuple(
            np.multiply(w, scale, out=self._grad_buffer_for(index)) if need else None
            for index, (w, need) in enumerate(zip(self.saved, self.needs_grad))
        )

    def describe(self):
        return f"l2_penalty(lam={self.lam:g})"
