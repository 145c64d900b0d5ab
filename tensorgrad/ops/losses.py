"""Fused losses: softmax cross-entropy through log-sum-exp, and the L2 weight penalty."""

from __future__ import annotations

import numpy as np

from .base import Op
from .softmax import log_sum_exp

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Op):
    """Cross-entropy of softmax(logits) against class indices (N,) or class probabilities (N, C).

    One node: the loss goes through log-sum-exp, and the gradient is `(softmax - target) / N` for "mean".
    """

    __slots__ = ("reduction",)
    name = "cross_entropy"

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def forward(self, logits, target):
        n = logits.shape[0]
        lse, shifted = log_sum_exp(logits, 1)
        if target.dtype.kind in "iu":
            losses = lse[:, 0] - shifted[np.arange(n), target]
        else:
            losses = (target * (lse - shifted)).sum(axis=1)
        self.saved = (shifted, lse, target)
        if self.reduction == "none":
            return losses
        total = np.add.reduce(losses)
        return np.asarray(total / n if self.reduction == "mean" else total, dtype=logits.dtype)

    def backward(self, grad):
        shifted, lse, target = self.saved
        n = shifted.shape[0]
        log_probs = shifted - lse
        if self.reduction == "none":
            scale = grad[:, None]
        elif self.reduction == "mean":
            scale = grad / n
        else:
            scale = grad
        grad_target = -log_probs * scale if self.needs_grad[1] else None
        probs = np.exp(log_probs, out=log_probs)  # log_probs is ours and no longer needed
        if target.dtype.kind in "iu":
            probs[np.arange(n), target] -= 1
        else:
            # d/dz of -sum_j t_j log softmax_j = softmax * sum_j t_j - t (= softmax - t for probabilities)
            probs *= target.sum(axis=1, keepdims=True)
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
        total = sum(float(np.vdot(w, w)) for w in weights)
        return np.asarray(0.5 * self.lam * total, dtype=np.result_type(*weights))

    def backward(self, grad):
        scale = self.lam * grad
        grads = []
        for index, (w, need) in enumerate(zip(self.saved, self.needs_grad)):
            buffer = self._grad_buffer_for(index) if need else None
            grads.append(
                None if not need else w * scale if buffer is None else np.multiply(w, scale, out=buffer)
            )
        return tuple(grads)

    def describe(self):
        return f"l2_penalty(lam={self.lam:g})"
