"""Check a function's gradients against central finite differences, as `torch.autograd.gradcheck` does."""

from __future__ import annotations

import numpy as np

from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytical and numerical Jacobians disagree; the message names the worst entry."""


def gradcheck(
    fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True
):
    """Compare the Jacobian of `fn(*inputs)` from backward() with central differences of step `eps`.

    Every input tensor with `requires_grad=True` is checked and must be float64. The output may have any
    shape: each of its elements is differentiated. An entry passes when |analytical - numerical| <=
    atol + rtol * |numerical|. Returns True, or raises `GradcheckError` naming the worst entry (with
    `raise_exception=False`, returns False instead).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input tensor requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 inputs "
                "(use .double() or tg.tensor(..., dtype=np.float64))"
            )

    saved_grads = [inputs[i].grad for i in checked]
    try:
        analytical = _analytical_jacobians(fn, inputs, checked)
    finally:
        for i, grad in zip(checked, saved_grads):
            inputs[i].grad = grad
    numerical = _numerical_jacobians(fn, inputs, checked, eps)

    worst = None  # (excess over tolerance, input index, input element, output element, analytical, numerical)
    for i, a_jac, n_jac in zip(checked, analytical, numerical):
        excess = np.abs(a_jac - n_jac) - (atol + rtol * np.abs(n_jac))
        excess[np.isnan(excess)] = np.inf  # a NaN on either side is a mismatch, not a pass
        flat = int(np.argmax(excess))
        if excess.flat[flat] > 0 and (worst is None or excess.flat[flat] > worst[0]):
            in_flat, out_flat = np.unravel_index(flat, a_jac.shape)
            in_index = np.unravel_index(in_flat, inputs[i].shape)
            worst = (excess.flat[flat], i, in_index, out_flat, a_jac.flat[flat], n_jac.flat[flat])
    if worst is None:
        return True
    if not raise_exception:
        return False
    _, i, in_index, out_flat, a_value, n_value = worst
    raise GradcheckError(
        f"gradcheck: Jacobian mismatch for input {i} at element {tuple(int(k) for k in in_index)}, "
        f"output element {int(out_flat)}: analytical {a_value:.10g} vs numerical {n_value:.10g} "
        f"(atol={atol}, rtol={rtol})"
    )


def _output_array(out) -> np.ndarray:
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out.data


def _analytical_jacobians(fn, inputs, checked):
    """One (input size, output size) matrix per checked input, one backward pass per output element."""
    out = fn(*inputs)
    out_data = _output_array(out)
    jacobians = [np.zeros((inputs[i].data.size, out_data.size)) for i in checked]
    if not out.requires_grad:
        return jacobians  # nothing depends on the inputs: every derivative is zero
    for k in range(out_data.size):
        for i in checked:
            inputs[i].grad = None
        seed = np.zeros(out_data.size, dtype=out_data.dtype)
        seed[k] = 1
        out.backward(seed.reshape(out_data.shape), retain_graph=True)
        for column, i in enumerate(checked):
            if inputs[i].grad is not None:
                jacobians[column][:, k] = inputs[i].grad.data.reshape(-1)
    return jacobians


def _numerical_jacobians(fn, inputs, checked, eps):
    jacobians = []
    with no_grad():
        for i in checked:
            flat = inputs[i].data.reshape(-1)  # a view: perturbing it perturbs the input
            if not np.shares_memory(flat, inputs[i].data):
                raise ValueError(f"gradcheck: input {i} must be contiguous")
            columns = []
            for j in range(flat.size):
                original = flat[j]
                flat[j] = original + eps
                plus = np.array(_output_array(fn(*inputs)), dtype=np.float64).reshape(-1)
                flat[j] = original - eps
                minus = np.array(_output_array(fn(*inputs)), dtype=np.float64).reshape(-1)
                flat[j] = original
                columns.append((plus - minus) / (2 * eps))
            jacobians.append(np.array(columns).reshape(flat.size, -1))
    return jacobians
