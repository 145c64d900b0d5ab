"""The gamma curve a model may put before its first layer (`input_gamma`), shared by `MLP` and `CNN`."""

from __future__ import annotations


def checked_gamma(gamma) -> float:
    """`gamma` as a float, or a ValueError unless it is a number > 0."""
    if not 0.0 < gamma < float("inf"):
        raise ValueError(f"input_gamma must be a number > 0, got {gamma}")
    return float(gamma)


def gamma_curve(x, gamma: float):
    """`x ** gamma`, `x` itself for 1: a Tensor for a Tensor (the op is recorded, so export sees it), an
    ndarray for an ndarray, the same numbers either way (both are NumPy's power of a Python number)."""
    return x if gamma == 1.0 else x**gamma


def gamma_repr(gamma: float) -> str:
    """What a model's repr adds for its curve: nothing for 1."""
    return f", input_gamma={gamma:g}" if gamma != 1.0 else ""
