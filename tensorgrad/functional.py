"""Functions on tensors that neural networks are built from (PyTorch's `torch.nn.functional`).

Every registered op is here under its name (`relu`, `exp`, `softmax`, `linear`, `cross_entropy`, ...; see
`ops.registry`); this file adds the functions that are not one op of their own, such as `dropout` and `dropout2d`.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .ops.registry import FUNCTIONS, as_input
from .random import as_generator
from .tensor import Tensor, _make

globals().update(FUNCTIONS)  # relu, tanh, sigmoid, exp, log, softmax, linear, cross_entropy, l2_penalty, ...


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Inverted dropout: zero each element with probability `p`, scale the kept ones by 1 / (1 - p).

    Recorded as a multiply by a constant mask, so the backward pass applies the very same mask.
    `rng` is a `np.random.Generator` (or an int seed; None uses `tg.random`'s default generator).
    """
    as_input(x, "dropout")
    return _masked(x, x.shape, p, training, rng, "dropout")


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Channel dropout on (N, C, H, W) (or (N, C, L), as PyTorch reads a 3-D input): zero each whole channel
    of each example with probability `p`, scale the kept ones by 1 / (1 - p).

    One mask entry per (example, channel), broadcast over the spatial axes; `rng` as for `dropout`.
    """
    as_input(x, "dropout2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a (N, C, H, W) or (N, C, L) input, got shape {x.shape}")
    return _masked(x, x.shape[:2] + (1,) * (x.ndim - 2), p, training, rng, "dropout2d")


def _masked(x: Tensor, mask_shape: tuple, p: float, training: bool, rng, kind: str) -> Tensor:
    """x times a dropout mask of `mask_shape` (broadcast over x), or x itself when not training or p = 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    mask = _make(dropout_mask(mask_shape, p, rng, dtype))
    mask.name = f"{kind} mask (p={p:g})"
    return x * mask


def dropout_mask(shape: tuple, p: float, rng=None, dtype=np.float32) -> np.ndarray:
    """The mask `dropout` multiplies by: 0 with probability `p`, else 1 / (1 - p), drawn from `rng`."""
    dtype = np.dtype(dtype)
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    # One draw in the target dtype, one comparison, one scale: no float64 temporaries. NumPy draws only
    # float32 and float64, so a float16 mask is drawn in float32 (as PyTorch computes half on the CPU).
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)
    keep = as_generator(rng).random(shape, dtype=draw_dtype) >= p
    return np.multiply(keep, 1.0 / (1.0 - p), dtype=dtype)


__all__ = sorted([*FUNCTIONS, "dropout", "dropout2d", "dropout_mask"])
del ops
