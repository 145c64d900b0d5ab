"""RMSprop with PyTorch's semantics (Hinton's running average of squared gradients; optional centering and
momentum)."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """g += weight_decay * p;  s = alpha s + (1 - alpha) g^2;  d = sqrt(s) + eps, or with `centered`
    d = sqrt(s - a^2) + eps where a = alpha a + (1 - alpha) g;  then p -= lr g / d, or with momentum
    b = momentum b + g / d and p -= lr b. State starts at zero, as PyTorch's."""

    state_names = ("square_avg",)

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):  # fmt: skip
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    def _check(self, options):
        for name in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            if options[name] < 0:
                raise ValueError(f"RMSprop: {name} must be >= 0, got {options[name]}")

    def _update(self, group, part, indices, step):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        param, grad, scratch = self.flat.data[part], self.flat.grad[part], self._scratch[part]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        square_avg = self.state["square_avg"][part]
        square_avg *= alpha
        square = np.multiply(grad, grad, out=scratch)
        square *= 1 - alpha
        square_avg += square
        if group["centered"]:
            grad_avg = self._state_array("grad_avg")[part]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            denom = np.multiply(grad_avg, grad_avg, out=scratch)
            np.subtract(square_avg, denom, out=denom)
            np.sqrt(denom, out=denom)
        else:
            denom = np.sqrt(square_avg, out=scratch)
        denom += eps
        if group["momentum"] > 0:
            buffer = self._state_array("momentum_buffer")[part]
            buffer *= group["momentum"]
            buffer += np.divide(grad, denom, out=denom)
            param -= lr * buffer
        else:
            step_ = np.divide(grad, denom, out=denom)
            step_ *= lr
            param -= step_

    def _param_state(self, i, group, part):
        if not self.steps[i]:
            return {}
        entry = {"step": self._step_array(i), "square_avg": self.state["square_avg"][part].copy()}
        if group["momentum"] > 0:
            entry["momentum_buffer"] = self._state_array("momentum_buffer")[part].copy()
        if group["centered"]:
            entry["grad_avg"] = self._state_array("grad_avg")[part].copy()
        return entry

    def _required_state(self, group):
        return ("square_avg",)

    def _load_param_state(self, i, group, part, entry):
        for name in ("square_avg", "momentum_buffer", "grad_avg"):
            if name in entry:
                self._state_array(name)[part] = entry[name]
