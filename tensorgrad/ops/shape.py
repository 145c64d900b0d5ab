"""Operations that move elements around without changing them: reshape, transpose, indexing."""

from __future__ import annotations

import numpy as np

from .base import Op


class Reshape(Op):
    __slots__ = ("shape",)
    name = "reshape"

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.saved = a.shape
        return a.reshape(self.shape)

    def backward(self, grad):
        return (grad.reshape(self.saved),)

    def describe(self):
        return f"reshape{tuple(self.shape)}"


class Permute(Op):
    """Reorders the axes: output axis i is input axis `axes[i]`."""

    __slots__ = ("axes",)
    name = "permute"

    def __init__(self, axes):
        self.axes = tuple(axes)

    def forward(self, a):
        if sorted(ax % max(a.ndim, 1) for ax in self.axes) != list(range(a.ndim)):
            raise ValueError(f"axes {self.axes} are not a permutation of the {a.ndim} axes")
        return a.transpose(self.axes)

    def backward(self, grad):
        return (grad.transpose(np.argsort([ax % grad.ndim for ax in self.axes])),)

    def describe(self):
        return "transpose" if self.axes == tuple(range(len(self.axes)))[::-1] else f"permute{self.axes}"


def _is_basic_index(index) -> bool:
    """True for indices made only of ints, slices, None and Ellipsis (no element is picked twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        part is None or part is Ellipsis or isinstance(part, (slice, int, np.integer)) for part in parts
    )


class GetItem(Op):
    """`a[index]` with NumPy semantics. Repeated integer indices add their gradients up."""

    __slots__ = ("index",)
    name = "getitem"

    def __init__(self, index):
        self.index = index

    def forward(self, a):
        self.saved = (a.shape, a.dtype)
        return np.asarray(a[self.index])

    def backward(self, grad):
        shape, dtype = self.saved
        full = np.zeros(shape, dtype=dtype)
        if _is_basic_index(self.index):
            full[self.index] = grad
        else:
            np.add.at(full, self.index, grad)
        return (full,)
