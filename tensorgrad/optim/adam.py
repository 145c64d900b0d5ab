"""Adam with PyTorch's semantics (bias-corrected moments; weight_decay as an L2 term added to the gradient)."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    The moments are kept as decayed sums, m / (1 - b1) and v / (1 - b2) (state names `decayed_grad_sum`
    and `decayed_grad_sq_sum`): each then updates as `s = b s + g` and the constants fold into the step,
    which saves three passes over all parameters per step. Mathematically the same update as PyTorch's.
    """

    state_names = ("decayed_grad_sum", "decayed_grad_sq_sum")
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
        grad_sum, grad_sq_sum = self.state["decayed_grad_sum"][part], self.state["decayed_grad_sq_sum"][part]
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        # In place with one scratch buffer: ten passes over the parameters, no allocation.
        grad_sum *= beta1
        grad_sum += grad
        grad_sq_sum *= beta2
        grad_sq_sum += np.multiply(grad, grad, out=scratch)
        # With m = (1 - b1) S and v = (1 - b2) Q, PyTorch's step is
        #   lr (1 - b1) / (1 - b1^t) * S / (r sqrt(Q) + eps),  r = sqrt((1 - b2) / (1 - b2^t))
        # = [lr (1 - b1) / ((1 - b1^t) r)] * S / (sqrt(Q) + eps / r)
        r = math.sqrt((1 - beta2) / (1 - beta2**step))
        denom = np.sqrt(grad_sq_sum, out=scratch)
        denom += self.eps / r
        update = np.divide(grad_sum, denom, out=scratch)
        update *= self.lr * (1 - beta1) / ((1 - beta1**step) * r)
        param -= update
