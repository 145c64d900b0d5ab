"""Adam and AdamW with PyTorch's semantics: bias-corrected moments; weight decay as an L2 term added to the
gradient (Adam) or decoupled from it (AdamW)."""

from __future__ import annotations

import math

import numpy as np

from ..parallel import elementwise
from .optimizer import Optimizer


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    `weight_decay` adds `weight_decay * p` to g, or, with `decoupled_weight_decay=True` (AdamW), shrinks
    p by `1 - lr * weight_decay` before the step. `amsgrad` is not implemented (only False).

    The moments are kept as decayed sums, m / (1 - b1) and v / (1 - b2) (state names `decayed_grad_sum`
    and `decayed_grad_sq_sum`): each then updates as `s = b s + g` and the constants fold into the step,
    which saves three passes over all parameters per step. Mathematically the same update as PyTorch's.
    A sum is scaled for the betas it was last updated with; when a group's betas change (OneCycleLR
    cycles beta1) the sums are rescaled once. `state_dict` gives PyTorch's `exp_avg` and `exp_avg_sq`,
    in float64 so that the round trip back to float32 sums is exact.
    """

    state_names = ("decayed_grad_sum", "decayed_grad_sq_sum")

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check(self, options):
        name = type(self).__name__
        lr, eps, weight_decay = options["lr"], options["eps"], options["weight_decay"]
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(
                f"{name}: lr, eps and weight_decay must be >= 0 (got {lr}, {eps}, {weight_decay})"
            )
        betas = options["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas}")
        if options["amsgrad"]:
            raise ValueError(f"{name}: amsgrad=True is not implemented")

    def _reset_param(self, i, group):
        super()._reset_param(i, group)
        self._records[i]["betas"] = tuple(group["betas"])
        # spans of parameters whose sums all use the same betas (a cache of the records; cleared on change)
        self._betas_of_span = {}

    def _update(self, group, part, indices, step):
        lr, (beta1, beta2), eps, weight_decay = (
            group["lr"],
            group["betas"],
            group["eps"],
            group["weight_decay"],
        )
        self._match_betas(part, indices, (beta1, beta2))
        param, grad, scratch = self.flat.data[part], self.flat.grad[part], self._scratch[part]
        grad_sum, grad_sq_sum = self.state["decayed_grad_sum"][part], self.state["decayed_grad_sq_sum"][part]
        if weight_decay:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        # With m = (1 - b1) S and v = (1 - b2) Q, PyTorch's step is
        #   lr (1 - b1) / (1 - b1^t) * S / (r sqrt(Q) + eps),  r = sqrt((1 - b2) / (1 - b2^t))
        # = [lr (1 - b1) / ((1 - b1^t) r)] * S / (sqrt(Q) + eps / r)
        r = math.sqrt((1 - beta2) / (1 - beta2**step))
        scale = lr * (1 - beta1) / ((1 - beta1**step) * r)

        def adam(start, stop):  # in place with one scratch buffer: ten passes, no allocation
            g, s, q, room = (
                grad[start:stop],
                grad_sum[start:stop],
                grad_sq_sum[start:stop],
                scratch[start:stop],
            )
            s *= beta1
            s += g
            q *= beta2
            q += np.multiply(g, g, out=room)
            denom = np.sqrt(q, out=room)
            denom += eps / r
            update = np.divide(s, denom, out=room)
            update *= scale
            param[start:stop] -= update

        elementwise(adam, param.size, 5 * param.itemsize)

    def _match_betas(self, part, indices, betas):
        """Rescale the decayed sums of parameters `indices` that were last updated with other betas."""
        span = (indices.start, indices.stop)
        if self._betas_of_span.get(span) == betas:  # the usual case, without a look at every parameter
            return
        records = self._records
        for i in indices:
            old = records[i]["betas"]
            if old == betas:
                continue
            for name, old_beta, beta in zip(self.state_names, old, betas):
                if old_beta != beta:  # the moment (1 - b_old) S stays; S becomes moment / (1 - b)
                    self.state[name][self._param_parts[i]] *= (1 - old_beta) / (1 - beta)
            records[i]["betas"] = betas
            self._betas_of_span.clear()
        self._betas_of_span[span] = betas

    def _param_state(self, i, group, part):
        if not self.steps[i]:
            return {}
        beta1, beta2 = self._records[i]["betas"]
        return {
            "step": self._step_array(i),
            "exp_avg": np.multiply(self.state["decayed_grad_sum"][part], 1 - beta1, dtype=np.float64),
            "exp_avg_sq": np.multiply(self.state["decayed_grad_sq_sum"][part], 1 - beta2, dtype=np.float64),
        }

    def _required_state(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _load_param_state(self, i, group, part, entry):
        beta1, beta2 = self._records[i]["betas"]  # the group's, set by the reset before loading
        self.state["decayed_grad_sum"][part] = np.divide(entry["exp_avg"], 1 - beta1, dtype=np.float64)
        self.state["decayed_grad_sq_sum"][part] = np.divide(entry["exp_avg_sq"], 1 - beta2, dtype=np.float64)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * weight_decay before each Adam
    step, as PyTorch's AdamW (whose default weight_decay is 0.01)."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)
