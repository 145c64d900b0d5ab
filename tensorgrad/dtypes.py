"""How data becomes a tensor's ndarray: PyTorch's float32 default, and scalars that take their partner's dtype."""

from __future__ import annotations

import numbers

import numpy as np

NUMERIC_KINDS = "biufc"


def as_array(data, dtype=None, copy: bool = False) -> np.ndarray:
    """`data` as an ndarray, with PyTorch's default of float32 for Python floats; refuses non-numeric data."""
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    try:
        array = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"cannot make a tensor from {type(data).__name__}: {error}") from None
    if dtype is None and not from_numpy and array.dtype == np.float64:
        array = array.astype(np.float32)
    if array.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(
            f"cannot make a tensor from {type(data).__name__}: it has no numeric dtype ({array.dtype}); "
            "tensors hold bool, int, float or complex numbers"
        )
    return array


def operand_array(value, dtype: np.dtype) -> np.ndarray:
    """The other operand of a binary op, as an ndarray, when it is not a tensor.

    Scalars (Python, NumPy, or 0-d arrays) take the float dtype of the tensor they meet (`dtype`), so that a
    float32 computation never turns float64 because of a constant. Arrays keep their dtype (NumPy's promotion).
    """
    if value.__class__ is float and dtype.kind == "f":  # the common case, first
        return np.asarray(value, dtype=dtype)
    if isinstance(value, numbers.Number) or (isinstance(value, np.ndarray) and value.ndim == 0):
        if dtype.kind in "fc":
            return np.asarray(value, dtype=dtype)
        if isinstance(value, (float, np.floating)):
            return np.asarray(value, dtype=np.float32)
        return np.asarray(value)
    if isinstance(value, (np.ndarray, list, tuple)):
        return as_array(value)
    raise TypeError(f"unsupported operand of type {type(value).__name__} for a Tensor operation")
