"""Tensors made from a shape rather than from data."""

from __future__ import annotations

import numpy as np

from .dtypes import as_array
from .random import as_generator
from .tensor import Tensor


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """A new leaf tensor holding a copy of `data`.

    Python floats (and lists of them) become float32; an ndarray keeps its float dtype; ints stay ints.
    Non-numeric data (strings, objects) is refused, as PyTorch refuses it.
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(as_array(data, dtype=dtype, copy=True), requires_grad=requires_grad, name=name)


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
