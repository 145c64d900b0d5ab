"""Stochastic gradient descent: PyTorch's `SGD`, and the paper's exponential-average `Momentum`."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """PyTorch's SGD: g += weight_decay * p; v = momentum * v + (1 - dampening) * g (v = g at the first
    step); g = g + momentum * v if nesterov else v; p -= lr * g."""

    hyperparameter_names = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):  # fmt: skip
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(
                f"SGD: lr, momentum and weight_decay must be >= 0 (got {lr}, {momentum}, {weight_decay})"
            )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0")
        self.state_names = ("momentum_buffer",) if momentum else ()
        super().__init__(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, part, step):
        param, grad = self.flat.data[part], self.flat.grad[part]
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            buffer = self.state["momentum_buffer"][part]
            if step == 1:
                buffer[...] = grad
            else:
                buffer *= self.momentum
                buffer += (1 - self.dampening) * grad
            grad = grad + self.momentum * buffer if self.nesterov else buffer
        param -= self.lr * grad


class Momentum(Optimizer):
    """The paper's momentum: v = beta * v + (1 - beta) * g; p -= lr * v (v starts at zero)."""

    state_names = ("velocity",)
    hyperparameter_names = ("lr", "beta")

    def __init__(self, params, lr: float, beta: float = 0.9):
        if lr < 0 or not 0.0 <= beta < 1.0:
            raise ValueError(f"Momentum: need lr >= 0 and 0 <= beta < 1 (got {lr}, {beta})")
        super().__init__(params)
        self.lr, self.beta = lr, beta

    def _update(self, part, step):
        velocity, scratch = self.state["velocity"][part], self._scratch[part]
        velocity *= self.beta
        velocity += np.multiply(self.flat.grad[part], 1 - self.beta, out=scratch)
        self.flat.data[part] -= np.multiply(velocity, self.lr, out=scratch)
