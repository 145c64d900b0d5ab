"""Joining tensors along an axis (`cat`, `stack`) and splitting one into views (`split`, `chunk`)."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from ..tensor import Tensor
from .base import Op
from .registry import as_input, expose, register


def _tensors(tensors, function: str) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{function}(): expected a sequence of Tensors, got a single Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{function}(): expected a non-empty sequence of Tensors")
    return [as_input(t, function) for t in tensors]


def _axis(dim: int, ndim: int, function: str) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(f"{function}(): dim {dim} is out of range for tensors of {ndim} dimensions")
    return dim % ndim


@register("cat", method=False)
class Cat(Op):
    """The tensors joined end to end along an existing axis `dim` (as `torch.cat`); dtypes promote."""

    __slots__ = ("axis",)
    name = "cat"
    arity = None

    def __init__(self, axis: int):
        self.axis = axis

    @classmethod
    def call(cls, tensors, dim: int = 0):
        tensors = _tensors(tensors, "cat")
        ndim = tensors[0].ndim
        if ndim == 0:
            raise ValueError("cat(): zero-dimensional tensors cannot be joined; use stack()")
        axis = _axis(dim, ndim, "cat")
        for t in tensors:
            shape, first = t.shape, tensors[0].shape
            if len(shape) != ndim or shape[:axis] + shape[axis + 1 :] != first[:axis] + first[axis + 1 :]:
                shapes = ", ".join(str(t.shape) for t in tensors)
                raise ValueError(f"cat(): shapes {shapes} differ outside dim {dim}")
        return apply(cls(axis), *tensors)

    def forward(self, *arrays):
        return np.concatenate(arrays, axis=self.axis)

    def backward(self, grad, *inputs, out):
        before = (slice(None),) * self.axis
        grads, start = [], 0
        for a, need in zip(inputs, self.needs_grad):
            stop = start + a.shape[self.axis]
            grads.append(grad[(*before, slice(start, stop))] if need else None)
            start = stop
        return tuple(grads)

    def describe(self):
        return f"cat(dim={self.axis})"


expose("concat", Cat.call, method=False)
expose("concatenate", Cat.call, method=False)


@register("stack", method=False)
class Stack(Op):
    """The tensors, all of one shape, joined along a new axis `dim` (as `torch.stack`)."""

    __slots__ = ("axis",)
    name = "stack"
    arity = None

    def __init__(self, axis: int):
        self.axis = axis

    @classmethod
    def call(cls, tensors, dim: int = 0):
        tensors = _tensors(tensors, "stack")
        shapes = {t.shape for t in tensors}
        if len(shapes) != 1:
            raise ValueError(
                f"stack(): tensors must all have one shape, got {', '.join(str(t.shape) for t in tensors)}"
            )
        return apply(cls(_axis(dim, tensors[0].ndim + 1, "stack")), *tensors)

    def forward(self, *arrays):
        return np.stack(arrays, axis=self.axis)

    def backward(self, grad, *inputs, out):
        before = (slice(None),) * self.axis
        return tuple(grad[(*before, i)] if need else None for i, need in enumerate(self.needs_grad))

    def describe(self):
        return f"stack(dim={self.axis})"


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """`x` cut along `dim` into pieces of `split_size_or_sections` (an int: the last may be smaller), or of
    the sizes in a list (which must add up to the axis length), as `torch.split`. Each piece is a slice of `x`.
    """
    x = as_input(x, "split")
    if x.ndim == 0:
        raise ValueError("split(): a zero-dimensional tensor cannot be split")
    axis = _axis(dim, x.ndim, "split")
    length = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and length != 0):
            raise ValueError(
                f"split(): split_size must be positive for an axis of length {length}, got {size}"
            )
        # pieces of `size`, the last one shorter; an empty axis gives one empty piece, as in PyTorch
        sizes = [min(size, length - start) for start in range(0, length, size)] if length else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != length:
            raise ValueError(
                f"split(): sizes {sizes} must be non-negative and add up to dim {dim}'s length {length}"
            )
    before = (slice(None),) * axis
    pieces, start = [], 0
    for size in sizes:
        pieces.append(x[(*before, slice(start, start + size))])
        start += size
    return tuple(pieces)


def chunk(x, chunks: int, dim: int = 0) -> tuple:
    """`x` cut along `dim` into at most `chunks` pieces of ceil(length / chunks) (as `torch.chunk`)."""
    x = as_input(x, "chunk")
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk(): chunks must be a positive int, got {chunks!r}")
    if x.ndim == 0:
        raise ValueError("chunk(): a zero-dimensional tensor cannot be split")
    length = x.shape[_axis(dim, x.ndim, "chunk")]
    if length == 0:
        return split(x, [0] * int(chunks), dim)  # as PyTorch: `chunks` empty pieces
    return split(x, -(-length // int(chunks)), dim)  # pieces of ceil(length / chunks)


expose("split", split)
expose("chunk", chunk)
