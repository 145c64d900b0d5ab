"""Check a function's gradients against central finite differences, as `torch.autograd.gradcheck` does."""

from __future__ import annotations

import numpy as np

from .autograd.api import grad
from .grad_mode import enable_grad
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


def _outputs(out) -> tuple:
    """fn's result as a tuple of Tensors (fn may return one Tensor or a tuple of them)."""
    outputs = out if isinstance(out, tuple) else (out,)
    for output in outputs:
        if not isinstance(output, Tensor):
            raise TypeError(
                f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(output).__name__}"
            )
    return outputs


def _output_array(out) -> np.ndarray:
    """All of fn's outputs, flattened end to end in float64."""
    return np.concatenate([np.asarray(o.data, dtype=np.float64).reshape(-1) for o in _outputs(out)])


def _analytical_jacobians(fn, inputs, checked):
    """One (input size, output size) matrix per checked input, one backward pass per output element."""
    outputs = _outputs(fn(*inputs))
    total = sum(o.data.size for o in outputs)
    jacobians = [np.zeros((inputs[i].data.size, total)) for i in checked]
    column_start = 0
    for out in outputs:
        out_data = out.data
        if out.requires_grad:  # else nothing depends on the inputs: every derivative is zero
            for k in range(out_data.size):
                for i in checked:
                    inputs[i].grad = None
                seed = np.zeros(out_data.size, dtype=out_data.dtype)
                seed[k] = 1
                out.backward(seed.reshape(out_data.shape), retain_graph=True)
                for column, i in enumerate(checked):
                    if inputs[i].grad is not None:
                        jacobians[column][:, column_start + k] = inputs[i].grad.data.reshape(-1)
        column_start += out_data.size
    return jacobians


def _numerical_jacobians(fn, inputs, checked, eps):
    # fn runs with recording on, as for the analytical pass: it may differentiate inside (as the function
    # gradgradcheck builds does, or a user's function that calls autograd.grad), as torch's gradcheck allows
    jacobians = []
    for i in checked:
        flat = inputs[i].data.reshape(-1)  # a view: perturbing it perturbs the input
        if not np.shares_memory(flat, inputs[i].data):
            raise ValueError(f"gradcheck: input {i} must be contiguous")
        columns = []
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = _output_array(fn(*inputs))
            flat[j] = original - eps
            minus = _output_array(fn(*inputs))
            flat[j] = original
            columns.append((plus - minus) / (2 * eps))
        jacobians.append(np.array(columns).reshape(flat.size, -1))
    return jacobians


def gradgradcheck(
    fn,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
):
    """Check second derivatives: gradcheck of the first derivatives that `backward(create_graph=True)` records.

    As `torch.autograd.gradgradcheck`: the first derivatives of `fn` with respect to its inputs that require
    grad, taken against `grad_outputs` (random float64 tensors, drawn from `seed`, when None), are checked
    with `gradcheck` against finite differences, with respect to the inputs and the `grad_outputs` alike.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradgradcheck: no input tensor requires grad, so there is nothing to check")
    outputs = _outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(
            Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs if o.requires_grad
        )
    grad_outputs = tuple(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else (grad_outputs,)
    n = len(inputs)

    def first_derivatives(*args):
        values, seeds = args[:n], args[n:]
        # the first derivatives need their graph, whatever the caller's grad mode
        with enable_grad():
            outs = [o for o in _outputs(fn(*values)) if o.requires_grad]
            wrt = [values[i] for i in checked]
            grads = grad(outs, wrt, seeds, create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else Tensor(np.zeros(x.shape, dtype=x.dtype)) for g, x in zip(grads, wrt)
        )

    return gradcheck(
        first_derivatives,
        (*inputs, *grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
    )
