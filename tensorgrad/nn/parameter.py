"""`Parameter`: a tensor that a module learns."""

from __future__ import annotations

import numpy as np

from ..dtypes import as_array
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` that a `Module` registers when assigned as an attribute."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, name: str | None = None):
        array = as_array(data.data if isinstance(data, Tensor) else data)
        if array.dtype.kind != "f":
            raise TypeError(f"a Parameter must hold floating-point data, not {array.dtype}")
        super().__init__(np.ascontiguousarray(array), requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
