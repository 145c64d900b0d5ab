"""Plain helpers for the engine tests: leaves, NumPy references, and a gradcheck that must pass."""

from __future__ import annotations

import operator

import numpy as np

import tensorgrad as tg

#: the binary operators, by the name of the op they record
BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
}


def leaf(values, dtype=np.float64, requires_grad: bool = True) -> tg.Tensor:
    """A leaf tensor holding a copy of `values` in `dtype` (float64 by default, for gradcheck)."""
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=requires_grad)


def normal(rng: np.random.Generator, shape, dtype=np.float64, requires_grad: bool = True) -> tg.Tensor:
    return leaf(rng.standard_normal(shape), dtype=dtype, requires_grad=requires_grad)


def positive(rng: np.random.Generator, shape, dtype=np.float64, requires_grad: bool = True) -> tg.Tensor:
    """Values in [0.5, 2]: safe for log, division and a base of pow."""
    return leaf(rng.uniform(0.5, 2.0, shape), dtype=dtype, requires_grad=requires_grad)


def away_from_zero(
    rng: np.random.Generator, shape, dtype=np.float64, requires_grad: bool = True
) -> tg.Tensor:
    """Values with |v| in [0.5, 2] and random signs: no kink of relu is within a finite-difference step."""
    signs = rng.choice([-1.0, 1.0], size=shape)
    return leaf(signs * rng.uniform(0.5, 2.0, shape), dtype=dtype, requires_grad=requires_grad)


def distinct(rng: np.random.Generator, shape, requires_grad: bool = True) -> tg.Tensor:
    """Values at least 0.25 apart, so the maximum of any slice is unique and stable under a small step."""
    size = int(np.prod(shape, dtype=np.int64))
    return leaf((rng.permutation(size) * 0.25 - 1.0).reshape(shape), requires_grad=requires_grad)


def assert_gradcheck(fn, *inputs, **kwargs) -> None:
    assert tg.gradcheck(fn, inputs, **kwargs) is True


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """NumPy reference: the gradient of a broadcast operand, summed back to the operand's shape."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def log_softmax_ref(z, axis: int = -1) -> np.ndarray:
    """Float64 log-softmax through log-sum-exp."""
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def softmax_ref(z, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax_ref(z, axis))
