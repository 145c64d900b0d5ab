"""Stochastic gradient descent: PyTorch's `SGD`, and the paper's exponential-average `Momentum`."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """PyTorch's SGD: g += weight_decay * p; v = momentum * v + (1 - dampening) * g (v = g at a parameter's
    first step with momentum); g = g + momentum * v if nesterov else v; p -= lr * g."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):  # fmt: skip
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _check(self, options):
        lr, momentum, weight_decay = options["lr"], options["momentum"], options["weight_decay"]
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(
                f"SGD: lr, momentum and weight_decay must be >= 0 (got {lr}, {momentum}, {weight_decay})"
            )
        if options["nesterov"] and (momentum <= 0 or options["dampening"] != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0")

    def _reset_param(self, i, group):
        super()._reset_param(i, group)
        self._records[i]["has_buffer"] = False

    def _update(self, group, part, indices, step):
        param, grad = self.flat.data[part], self.flat.grad[part]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        if weight_decay:
            grad = grad + weight_decay * param
        if momentum:
            started = [self._records[i]["has_buffer"] for i in indices]
            if all(started) or not any(started):
                self._update_buffer(self._state_array("momentum_buffer")[part], grad, group, started[0])
            else:  # some parameters of the group start their buffer now: one at a time
                offset = part.start
                for i in indices:
                    own = slice(self._param_parts[i].start - offset, self._param_parts[i].stop - offset)
                    buffer = self.state["momentum_buffer"][self._param_parts[i]]
                    self._update_buffer(buffer, grad[own], group, self._records[i]["has_buffer"])
            for i in indices:
                self._records[i]["has_buffer"] = True
            buffer = self.state["momentum_buffer"][part]
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param -= group["lr"] * grad

    @staticmethod
    def _update_buffer(buffer, grad, group, started: bool) -> None:
        if not started:
            buffer[...] = grad
        else:
            buffer *= group["momentum"]
            buffer += (1 - group["dampening"]) * grad

    def _param_state(self, i, group, part):
        if not self._records[i]["has_buffer"]:
            return {}  # PyTorch's SGD keeps no step count, and a buffer only once momentum was used
        return {"momentum_buffer": self.state["momentum_buffer"][part].copy()}

    def _load_param_state(self, i, group, part, entry):
        if "momentum_buffer" in entry:
            self._state_array("momentum_buffer")[part] = entry["momentum_buffer"]
            self._records[i]["has_buffer"] = True


class Momentum(Optimizer):
    """The paper's momentum: v = beta * v + (1 - beta) * g; p -= lr * v (v starts at zero)."""

    state_names = ("velocity",)

    def __init__(self, params, lr: float, beta: float = 0.9):
        super().__init__(params, {"lr": lr, "beta": beta})

    def _check(self, options):
        if options["lr"] < 0 or not 0.0 <= options["beta"] < 1.0:
            raise ValueError(
                f"Momentum: need lr >= 0 and 0 <= beta < 1 (got {options['lr']}, {options['beta']})"
            )

    def _update(self, group, part, indices, step):
        lr, beta = group["lr"], group["beta"]
        velocity, scratch = self.state["velocity"][part], self._scratch[part]
        velocity *= beta
        velocity += np.multiply(self.flat.grad[part], 1 - beta, out=scratch)
        self.flat.data[part] -= np.multiply(velocity, lr, out=scratch)

    def _param_state(self, i, group, part):
        if not self.steps[i]:
            return {}
        return {"step": self._step_array(i), "velocity": self.state["velocity"][part].copy()}

    def _required_state(self, group):
        return ("velocity",)

    def _load_param_state(self, i, group, part, entry):
        self.state["velocity"][part] = entry["velocity"]
