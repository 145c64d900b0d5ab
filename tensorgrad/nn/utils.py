"""Gradient utilities (PyTorch's `torch.nn.utils`)."""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor


def total_grad_norm(params) -> float:
    """The joint L2 norm of the gradients of `params` (those that have one), as a Python float.

    Summed in the gradients' own dtype: a float32 sum of squares overflows only for norms above 1e19.
    """
    return _norm([p.grad.data for p in params if p.grad is not None])


def clip_grad_norm_(params, max_norm: float, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients in place so that their joint L2 norm is at most `max_norm`.

    Returns the total norm before clipping (a 0-d tensor), as PyTorch does.
    """
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    total = _norm(grads)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total gradient norm is {total}; cannot clip non-finite gradients")
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g *= scale
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def _norm(arrays: list) -> float:
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))
