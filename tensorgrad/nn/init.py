"""Weight initialization (PyTorch's `torch.nn.init`), each drawing from an explicit generator."""

from __future__ import annotations

import math

import numpy as np

from ..random import as_generator


def he_normal(shape: tuple, fan_in: int | None = None, rng=None, dtype=np.float32) -> np.ndarray:
    """He (Kaiming) normal initialization for ReLU layers: N(0, 2 / fan_in).

    `fan_in` defaults to `shape[1]`, the input size of a (out_features, in_features) weight.
    """
    fan_in = shape[1] if fan_in is None else fan_in
    std = math.sqrt(2.0 / fan_in)
    return (as_generator(rng).standard_normal(shape, dtype=np.dtype(dtype)) * std).astype(dtype, copy=False)


kaiming_normal = he_normal
