"""Picking elements by index tensors: `gather`, `take_along_dim`, `F.one_hot`, `F.embedding`.

`gather` and `take_along_dim` are advanced indexing (`GetItem`), so repeated indices add their gradients
up and every order of derivative comes with it.
"""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from ..tensor import Tensor, _make
from .base import Op
from .generic import index_add
from .registry import as_input, expose, register


def _indices(index, function: str) -> np.ndarray:
    values = np.asarray(index.data if isinstance(index, Tensor) else index)
    if values.dtype.kind not in "iu":
        raise TypeError(f"{function}(): indices must be integers, not {values.dtype}")
    return values


def _check_range(values: np.ndarray, size: int, function: str, what: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= size):
        raise IndexError(
            f"{function}(): {what} must lie in [0, {size}), got values from {values.min()} to {values.max()}"
        )


def _axis(dim: int, ndim: int, function: str) -> int:
    ndim = max(ndim, 1)
    if not -ndim <= dim < ndim:
        raise IndexError(f"{function}(): dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % ndim


def _along(values: np.ndarray, axis: int, sizes: tuple) -> tuple:
    """The advanced index that takes `values` along `axis` and keeps position along every other axis."""
    ndim = len(sizes)
    index = []
    for ax in range(ndim):
        if ax == axis:
            index.append(values)
        else:
            shape = [1] * ndim
            shape[ax] = sizes[ax]
            index.append(np.arange(sizes[ax]).reshape(shape))
    return tuple(index)


def gather(x, dim: int, index):
    """out[i][j] = x[index[i][j]][j] for dim 0 (and so on), as `torch.gather`: `index` has x's number of
    dimensions and is no larger than x along the other axes."""
    x = as_input(x, "gather")
    values = _indices(index, "gather")
    axis = _axis(dim, x.ndim, "gather")
    if values.ndim != x.ndim or any(values.shape[ax] > x.shape[ax] for ax in range(x.ndim) if ax != axis):
        raise ValueError(
            f"gather(): index of shape {values.shape} must have the {x.ndim} dimensions of the input {x.shape} "
            f"and be no larger outside dim {dim}"
        )
    _check_range(values, x.shape[axis], "gather", "indices")
    return x[_along(values, axis, values.shape)]


def take_along_dim(x, indices, dim=None):
    """`x`'s elements at `indices` along `dim`, the other axes broadcast (as `torch.take_along_dim`);
    dim None takes from the flattened `x`."""
    x = as_input(x, "take_along_dim")
    values = _indices(indices, "take_along_dim")
    if dim is None:
        flat = x.reshape(-1)
        _check_range(values, flat.shape[0], "take_along_dim", "indices")
        return flat[values.reshape(-1)]
    axis = _axis(dim, x.ndim, "take_along_dim")
    if values.ndim != x.ndim:
        raise ValueError(
            f"take_along_dim(): indices of shape {values.shape} must have the input's {x.ndim} dimensions"
        )
    _check_range(values, x.shape[axis], "take_along_dim", "indices")
    for ax in range(x.ndim):
        if ax != axis and 1 not in (x.shape[ax], values.shape[ax]) and x.shape[ax] != values.shape[ax]:
            raise ValueError(
                f"take_along_dim(): indices of shape {values.shape} do not broadcast with {x.shape}"
            )
    return x[_along(values, axis, x.shape)]


expose("gather", gather)
expose("take_along_dim", take_along_dim)


def one_hot(indices, num_classes: int = -1):
    """int64 rows of zeros with a one at each index, a new last axis of `num_classes` (-1: max + 1)."""
    values = _indices(indices, "one_hot")
    if values.size and values.min() < 0:
        raise ValueError(f"one_hot(): class indices must not be negative, got {values.min()}")
    if num_classes == -1:
        num_classes = int(values.max()) + 1 if values.size else 0
    _check_range(values, num_classes, "one_hot", "class indices")
    out = np.zeros((*values.shape, num_classes), dtype=np.int64)
    np.put_along_axis(out, values[..., None].astype(np.intp), 1, axis=-1)
    return _make(out)


expose("one_hot", one_hot, method=False)


@register("embedding", method=False)
class Embedding(Op):
    """Rows of `weight` (num_embeddings, dim) picked by integer `input` of any shape, as
    `torch.nn.functional.embedding`; the row `padding_idx` gets no gradient."""

    __slots__ = ("indices", "padding_idx")
    name = "embedding"

    def __init__(self, indices, padding_idx):
        self.indices = indices
        self.padding_idx = padding_idx

    @classmethod
    def call(cls, input, weight, padding_idx=None):
        weight = as_input(weight, "embedding")
        values = _indices(input, "embedding")
        if weight.ndim != 2:
            raise ValueError(
                f"embedding(): weight must be (num_embeddings, embedding_dim), got shape {weight.shape}"
            )
        rows = weight.shape[0]
        _check_range(values, rows, "embedding", "indices")
        if padding_idx is not None:
            if not -rows <= padding_idx < rows:
                raise ValueError(
                    f"embedding(): padding_idx {padding_idx} is out of range for {rows} embeddings"
                )
            padding_idx %= rows
        return apply(cls(values, padding_idx), weight)

    def forward(self, weight):
        return weight[self.indices]

    def backward(self, grad, weight, out):
        if self.padding_idx is not None:
            grad = grad * (self.indices != self.padding_idx)[..., None].astype(grad.dtype)
        return index_add(grad, self.indices, weight.shape)

    def describe(self):
        return "embedding"
