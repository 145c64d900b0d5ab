"""Adagrad with PyTorch's semantics (Duchi et al.: per-coordinate steps shrink with the summed squared
gradients)."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """g += weight_decay * p;  s += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps).

    The sum starts at `initial_accumulator_value`; as in PyTorch every parameter has state (step 0) from
    the start.
    """

    state_names = ("sum",)

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):  # fmt: skip
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
        }
        super().__init__(params, defaults)

    def _check(self, options):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            if options[name] < 0:
                raise ValueError(f"Adagrad: {name} must be >= 0, got {options[name]}")

    def _initial_state(self, name, group, part):
        part[...] = group["initial_accumulator_value"]

    def _update(self, group, part, indices, step):
        param, grad, scratch = self.flat.data[part], self.flat.grad[part], self._scratch[part]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        square_sum = self.state["sum"][part]
        square_sum += np.multiply(grad, grad, out=scratch)
        denom = np.sqrt(square_sum, out=scratch)
        denom += group["eps"]
        update = np.divide(grad, denom, out=scratch)
        update *= group["lr"] / (1 + (step - 1) * group["lr_decay"])
        param -= update

    def _param_state(self, i, group, part):
        return {"step": self._step_array(i), "sum": self.state["sum"][part].copy()}

    def _required_state(self, group):
        return ("sum",)

    def _load_param_state(self, i, group, part, entry):
        self.state["sum"][part] = entry["sum"]
