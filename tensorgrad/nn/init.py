"""Weight initialization (PyTorch's `torch.nn.init`), each drawing from an explicit generator.

`fan_in` of a weight is everything but its first axis: in_features for a (out, in) matrix,
in_channels/groups * kH * kW for a convolution kernel (out, in/groups, kH, kW), as PyTorch counts it.
"""

from __future__ import annotations

import math

import numpy as np

from ..random import as_generator


def fan_in(shape: tuple) -> int:
    """The number of inputs each output of a weight of this shape sums over."""
    if len(shape) < 2:
        raise ValueError(f"fan_in needs a weight with at least 2 dimensions, got shape {shape}")
    return int(np.prod(shape[1:]))


def he_normal(shape: tuple, fan_in: int | None = None, rng=None, dtype=np.float32) -> np.ndarray:
    """He (Kaiming) normal initialization for ReLU layers: N(0, 2 / fan_in).

    `fan_in` defaults to the weight's (see the module docstring).
    """
    fan_in = _fan_in(shape) if fan_in is None else fan_in
    std = math.sqrt(2.0 / fan_in)
    return (as_generator(rng).standard_normal(shape, dtype=np.dtype(dtype)) * std).astype(dtype, copy=False)


kaiming_normal = he_normal
_fan_in = fan_in


def uniform(shape: tuple, bound: float, rng=None, dtype=np.float32) -> np.ndarray:
    """U(-bound, bound)."""
    values = as_generator(rng).uniform(-bound, bound, shape)
    return values.astype(dtype, copy=False)


def kaiming_uniform(shape: tuple, a: float = 0.0, rng=None, dtype=np.float32) -> np.ndarray:
    """`torch.nn.init.kaiming_uniform_` (mode fan_in, leaky ReLU of slope `a`): U(-b, b) with
    b = sqrt(2 / (1 + a**2)) * sqrt(3 / fan_in)."""
    bound = math.sqrt(2.0 / (1.0 + a * a)) * math.sqrt(3.0 / _fan_in(shape))
    return uniform(shape, bound, rng, dtype)


def torch_default(weight_shape: tuple, bias: bool = True, rng=None, dtype=np.float32) -> tuple:
    """PyTorch's default (weight, bias) of `nn.Linear` and `nn.Conv2d`: the weight kaiming_uniform with
    a = sqrt(5), that is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same range (None without
    a bias). Drawn weight first, then bias, from `rng`."""
    rng = as_generator(rng)
    weight = kaiming_uniform(weight_shape, a=math.sqrt(5.0), rng=rng, dtype=dtype)
    if not bias:
        return weight, None
    bound = 1.0 / math.sqrt(_fan_in(weight_shape))
    return weight, uniform((weight_shape[0],), bound, rng, dtype)


def he_default(weight_shape: tuple, bias: bool = True, rng=None, dtype=np.float32) -> tuple:
    """The paper's (weight, bias): He normal weight, zero bias (None without a bias)."""
    weight = he_normal(weight_shape, rng=rng, dtype=dtype)
    return weight, (np.zeros(weight_shape[0], dtype=dtype) if bias else None)


#: the `init=` choices of Linear and Conv2d
INITIALIZERS = {"he": he_default, "torch": torch_default}


def initial_parameters(init: str, weight_shape: tuple, bias: bool, rng, dtype) -> tuple:
    """(weight, bias) arrays for a layer by the name of its scheme ("he" or "torch")."""
    if init not in INITIALIZERS:
        raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, not {init!r}")
    return INITIALIZERS[init](weight_shape, bias=bias, rng=rng, dtype=dtype)
