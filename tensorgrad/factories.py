"""Tensors made from a shape rather than from data."""

from __future__ import annotations

import numpy as np

from .random import as_generator
from .tensor import Tensor


def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `tg.zeros(2, 3)` or `tg.zeros((2, 3))`."""
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, requires_grad: bool = False, rng=None) -> Tensor:
    """Standard normal samples from `rng` (a Generator, an int seed, or None for the default generator)."""
    data = as_generator(rng).standard_normal(_shape(shape), dtype=np.dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)
