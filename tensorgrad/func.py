"""Function transforms, as `torch.func` and JAX have them: grad, value_and_grad, vjp, jvp, jacrev, hessian.

Each takes a function of Tensors and returns a function (or computes its result directly, as `vjp` and
`jvp` do). They compose: `grad(grad(f))` is the second derivative, because an input that already requires
grad is differentiated with `create_graph=True`, so the result stays differentiable.
"""

from __future__ import annotations

import numpy as np

from .autograd.api import grad as autograd_grad
from .grad_mode import enable_grad
from .ops.joining import Stack
from .tensor import Tensor, _make


def _prepare(args, argnums):
    """The arguments with those at `argnums` as tensors that require grad; whether to record derivatives."""
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    args = list(args)
    nested = False
    for position in positions:
        value = args[position]
        if not isinstance(value, Tensor):
            raise TypeError(
                f"argument {position} must be a Tensor to be differentiated, got {type(value).__name__}"
            )
        if value.dtype.kind not in "fc":
            raise TypeError(
                f"argument {position} must be floating point to be differentiated, not {value.dtype}"
            )
        if value.requires_grad:
            nested = True  # an outer transform (or the caller) differentiates through this one
        else:
            args[position] = _make(value.data, requires_grad=True)
    return args, positions, nested


def _scalar(out, has_aux: bool, what: str):
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"{what}(has_aux=True): the function must return (output, aux)")
        out, aux = out
    else:
        aux = None
    if not isinstance(out, Tensor) or out.data.size != 1:
        shape = out.shape if isinstance(out, Tensor) else type(out).__name__
        raise RuntimeError(f"{what}: the function must return a Tensor with one element, got {shape}")
    return out, aux


def value_and_grad(f, argnums=0, has_aux: bool = False):
    """`f` -> a function returning (f(*args), gradient of f at args w.r.t. the arguments at `argnums`).

    With `has_aux=True`, `f` returns (output, aux) and the result is ((output, aux), gradient). For a tuple
    `argnums` the gradient is a tuple.
    """

    def wrapped(*args, **kwargs):
        with enable_grad():
            prepared, positions, nested = _prepare(args, argnums)
            out = f(*prepared, **kwargs)
            value, aux = _scalar(out, has_aux, "grad")
            if not value.requires_grad:
                grads = tuple(_make(np.zeros_like(prepared[p].data)) for p in positions)
            else:
                grads = autograd_grad(
                    value, [prepared[p] for p in positions], create_graph=nested, allow_unused=True
                )
                grads = tuple(
                    g if g is not None else _make(np.zeros_like(prepared[p].data))
                    for g, p in zip(grads, positions)
                )
        result = grads[0] if isinstance(argnums, int) else grads
        if not nested:
            value = value.detach()
        return ((value, aux) if has_aux else value), result

    return wrapped


def grad(f, argnums=0, has_aux: bool = False):
    """`f` -> a function returning the gradient of `f` (a scalar Tensor) w.r.t. the arguments at `argnums`."""
    transform = value_and_grad(f, argnums, has_aux)

    def wrapped(*args, **kwargs):
        (value_or_pair), gradient = transform(*args, **kwargs)
        return (gradient, value_or_pair[1]) if has_aux else gradient

    return wrapped


def vjp(f, *primals, has_aux: bool = False):
    """(f(*primals), vjp_fn): vjp_fn(cotangent) gives cotangent^T J for each primal, as a tuple."""
    with enable_grad():
        prepared, _, nested = _prepare(primals, tuple(range(len(primals))))
        out = f(*prepared)
        aux = None
        if has_aux:
            out, aux = out
    if not isinstance(out, Tensor):
        raise TypeError(f"vjp: the function must return a Tensor, got {type(out).__name__}")

    def vjp_fn(cotangent):
        cotangent = (
            cotangent if isinstance(cotangent, Tensor) else _make(np.asarray(cotangent, dtype=out.dtype))
        )
        if cotangent.shape != out.shape:
            raise ValueError(f"vjp: cotangent of shape {cotangent.shape} for an output of shape {out.shape}")
        if not out.requires_grad:
            return tuple(_make(np.zeros_like(p.data)) for p in prepared)
        with enable_grad():
            record = nested or cotangent.requires_grad
            grads = autograd_grad(
                out, prepared, cotangent, retain_graph=True, create_graph=record, allow_unused=True
            )
        return tuple(g if g is not None else _make(np.zeros_like(p.data)) for g, p in zip(grads, prepared))

    value = out if nested else out.detach()
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jvp(f, primals, tangents):
    """(f(*primals), J @ tangents): the forward-mode product, computed by differentiating a vjp again.

    vjp_fn(u) = u^T J is linear in u, so the gradient of <vjp_fn(u), tangents> with respect to u is J @ tangents.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    with enable_grad():
        prepared, _, nested = _prepare(primals, tuple(range(len(primals))))
        out = f(*prepared)
        if not isinstance(out, Tensor):
            raise TypeError(f"jvp: the function must return a Tensor, got {type(out).__name__}")
        for p, t in zip(prepared, tangents):
            if tuple(t.shape) != p.shape:
                raise ValueError(f"jvp: tangent of shape {t.shape} for a primal of shape {p.shape}")
        if not out.requires_grad:
            return (out if nested else out.detach()), _make(np.zeros_like(out.data))
        u = _make(np.zeros_like(out.data), requires_grad=True)
        grads = autograd_grad(out, prepared, u, create_graph=True, allow_unused=True)
        inner = None
        for g, t in zip(grads, tangents):
            if g is None:
                continue
            term = (g * t).sum()
            inner = term if inner is None else inner + term
        if inner is None or not inner.requires_grad:
            tangent_out = _make(np.zeros_like(out.data))
        else:
            (tangent_out,) = autograd_grad(inner, [u], create_graph=nested, allow_unused=True)
            tangent_out = tangent_out if tangent_out is not None else _make(np.zeros_like(out.data))
    return (out if nested else out.detach()), tangent_out


def jacrev(f, argnums=0):
    """`f` -> a function returning the Jacobian of `f` w.r.t. the argument at `argnums`.

    Shape: output shape + input shape (one vjp per output element). A tuple `argnums` gives a tuple.
    """

    def wrapped(*args):
        with enable_grad():
            prepared, positions, nested = _prepare(args, argnums)
            out = f(*prepared)
            if not isinstance(out, Tensor):
                raise TypeError(f"jacrev: the function must return a Tensor, got {type(out).__name__}")
            wrt = [prepared[p] for p in positions]
            rows = [[] for _ in positions]
            flat_out = out.reshape(-1)
            for k in range(out.data.size):
                if not out.requires_grad:
                    grads = (None,) * len(wrt)
                else:
                    grads = autograd_grad(
                        flat_out[k], wrt, retain_graph=True, create_graph=nested, allow_unused=True
                    )
                for row, g, x in zip(rows, grads, wrt):
                    row.append((g if g is not None else _make(np.zeros_like(x.data))).reshape(-1))
            jacobians = tuple(_stack_rows(row, out.shape + x.shape, x.dtype) for row, x in zip(rows, wrt))
        return jacobians[0] if isinstance(argnums, int) else jacobians

    return wrapped


jacobian = jacrev


def _stack_rows(rows, shape, dtype):
    """Rows of a Jacobian (Tensors of the input's size) as one Tensor of `shape`, differentiable."""
    if not rows:
        return _make(np.zeros(shape, dtype=dtype))
    if not any(r.requires_grad for r in rows):
        return _make(np.stack([r.data for r in rows]).reshape(shape))
    return Stack.call(rows).reshape(shape)


def hessian(f, argnums=0):
    """`f` -> a function returning the Hessian of the scalar `f` w.r.t. the argument at `argnums`."""
    return jacrev(jacrev(f, argnums), argnums)


def hvp(f, primals, tangents):
    """(f(*primals), H @ tangents) for a scalar `f`: the gradient of <grad f, tangents> (double backward)."""
    primals, tangents = tuple(primals), tuple(tangents)
    with enable_grad():
        prepared, _, nested = _prepare(primals, tuple(range(len(primals))))
        out, _ = _scalar(f(*prepared), False, "hvp")
        grads = autograd_grad(out, prepared, create_graph=True, allow_unused=True)
        inner = None
        for g, t in zip(grads, tangents):
            if g is not None and g.requires_grad:
                term = (g * t).sum()
                inner = term if inner is None else inner + term
        if inner is None:
            products = tuple(_make(np.zeros_like(p.data)) for p in prepared)
        else:
            products = autograd_grad(inner, prepared, create_graph=nested, allow_unused=True)
            products = tuple(
                g if g is not None else _make(np.zeros_like(p.data)) for g, p in zip(products, prepared)
            )
    return (out if nested else out.detach()), products
