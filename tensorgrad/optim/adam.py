"""Adam with PyTorch's semantics (bias-corrected moments; weight_decay as an L2 term added to the gradient)."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    state_names = ("exp_avg", "exp_avg_sq")
    hyperparameter_names = ("lr", "betas", "eps", "weight_decay")

    def __init__(
        self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0
    ):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"Adam: lr, eps and weight_decay must be >= 0 (got {lr}, {eps}, {weight_decay})")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must lie in [0, 1), got {betas}")
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay

    def _update(self, part, step):
        beta1, beta2 = self.betas
        param, grad, scratch = self.flat.data[part], self.flat.grad[part], self._scratch[part]
        exp_avg, exp_avg_sq = self.state["exp_avg"][part], self.state["exp_avg_sq"][part]
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        # In place with one scratch buffer: a step over all parameters is ~12 passes and no allocation.
        exp_avg *= beta1
        exp_avg += np.multiply(grad, 1 - beta1, out=scratch)
        exp_avg_sq *= beta2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        exp_avg_sq += scratch
        denom = np.sqrt(exp_avg_sq, out=scratch)
        denom *= 1 / math.sqrt(1 - beta2**step)
        denom += self.eps
        update = np.divide(exp_avg, denom, out=scratch)
        update *= self.lr / (1 - beta1**step)
        param -= update
