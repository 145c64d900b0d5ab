"""Operations that move elements around without changing them: reshape, transpose, broadcast, indexing."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply, sum_to
from ..tensor import Tensor, raw_index
from .base import Op
from .generic import broadcast_to, flip, index_add, permute
from .registry import as_input, expose, register


def _shape_arguments(shape) -> tuple:
    """`f(2, 3)` and `f((2, 3))` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


@register("reshape")
class Reshape(Op):
    """The same elements in a new shape: `x.reshape(2, 3)` or `x.reshape((2, 3))`; one size may be -1."""

    __slots__ = ("shape",)
    name = "reshape"

    def __init__(self, shape):
        self.shape = shape

    @classmethod
    def call(cls, x, *shape):
        return apply(cls(_shape_arguments(shape)), as_input(x, "reshape"))

    def forward(self, a):
        return a.reshape(self.shape)

    def backward(self, grad, a, out):
        return grad.reshape(a.shape)

    def describe(self):
        return f"reshape{tuple(self.shape)}"


expose("view", Reshape.call, function=False)


@register("permute")
class Permute(Op):
    """Reorders the axes: output axis i is input axis `axes[i]`."""

    __slots__ = ("axes",)
    name = "permute"

    def __init__(self, axes):
        self.axes = tuple(axes)

    @classmethod
    def call(cls, x, *axes):
        return apply(cls(_shape_arguments(axes)), as_input(x, "permute"))

    def forward(self, a):
        if sorted(ax % max(a.ndim, 1) for ax in self.axes) != list(range(a.ndim)):
            raise ValueError(f"axes {self.axes} are not a permutation of the {a.ndim} axes")
        return a.transpose(self.axes)

    def backward(self, grad, a, out):
        return permute(grad, tuple(np.argsort([ax % a.ndim for ax in self.axes]).tolist()))

    def describe(self):
        return "transpose" if self.axes == tuple(range(len(self.axes)))[::-1] else f"permute{self.axes}"


def transpose(x, dim0: int | None = None, dim1: int | None = None):
    """`x.transpose()` reverses the axes (as NumPy's); `x.transpose(d0, d1)` swaps two (as PyTorch's)."""
    x = as_input(x, "transpose")
    if dim0 is None and dim1 is None:
        return apply(Permute(range(x.ndim - 1, -1, -1)), x)
    if dim0 is None or dim1 is None:
        raise TypeError("transpose() takes no axes (reverse them all) or two axes to swap")
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return apply(Permute(axes), x)


expose("transpose", transpose)
expose("swapaxes", transpose)
Tensor.T = property(transpose, doc="The axes reversed (as NumPy's `.T`).")


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    """Merge the axes from `start_dim` to `end_dim` into one (as `torch.flatten`)."""
    x = as_input(x, "flatten")
    ndim = max(x.ndim, 1)
    start, end = start_dim % ndim, end_dim % ndim
    shape = x.shape
    return x.reshape(*shape[:start], -1, *shape[end + 1 :])


expose("flatten", flatten)


@register("broadcast_to")
class BroadcastTo(Op):
    """`x` repeated along new or size-1 axes to `shape` (NumPy's broadcasting rules)."""

    __slots__ = ("shape",)
    name = "broadcast_to"

    def __init__(self, shape):
        self.shape = tuple(shape)

    @classmethod
    def call(cls, x, *shape):
        return apply(cls(_shape_arguments(shape)), as_input(x, "broadcast_to"))

    def forward(self, a):
        return np.broadcast_to(a, self.shape)

    def backward(self, grad, a, out):
        return grad  # the engine sums it back to the input's shape

    def describe(self):
        return f"broadcast_to{self.shape}"


@register("sum_to_size", function=False)
class SumTo(Op):
    """`x` summed over the axes broadcasting would add or stretch, down to `shape` (broadcast_to's adjoint)."""

    __slots__ = ("shape",)
    name = "sum_to_size"

    def __init__(self, shape):
        self.shape = tuple(shape)

    @classmethod
    def call(cls, x, *shape):
        return apply(cls(_shape_arguments(shape)), as_input(x, "sum_to_size"))

    def forward(self, a):
        return sum_to(a, self.shape)

    def backward(self, grad, a, out):
        return broadcast_to(grad, a.shape)

    def describe(self):
        return f"sum_to{self.shape}"


@register("__getitem__", function=False)
class GetItem(Op):
    """`a[index]` with NumPy semantics. Repeated integer indices add their gradients up."""

    __slots__ = ("index",)
    name = "getitem"

    def __init__(self, index):
        self.index = index

    @classmethod
    def call(cls, x, index):
        return apply(cls(raw_index(index)), x)

    def forward(self, a):
        return np.asarray(a[self.index])

    def backward(self, grad, a, out):
        return index_add(grad, self.index, a.shape)


@register("index_add", method=False)
class IndexAdd(Op):
    """A zero tensor of `shape` with `x` added at `index` (repeated indices add up): indexing's adjoint."""

    __slots__ = ("index", "shape")
    name = "index_add"

    def __init__(self, index, shape):
        self.index = raw_index(index)
        self.shape = tuple(shape)

    def forward(self, a):
        return index_add(a, self.index, self.shape)

    def backward(self, grad, a, out):
        return grad[self.index]


def _dims(dims) -> tuple:
    """`f(0, 1)`, `f((0, 1))` and `f(0)` alike, as a tuple of ints."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return tuple(dims)


def _checked_axis(dim: int, ndim: int, function: str) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(f"{function}(): dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % ndim


def squeeze(x, dim=None):
    """`x` without axes of size 1: all of them, or those among `dim` (an int or a tuple); as PyTorch, a
    named axis whose size is not 1 is left as it is."""
    x = as_input(x, "squeeze")
    shape = x.shape
    if dim is None:
        axes = {ax for ax, size in enumerate(shape) if size == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        ndim = max(x.ndim, 1)  # a 0-d tensor accepts dim 0 and -1, as PyTorch
        axes = {_checked_axis(d, ndim, "squeeze") for d in dims}
        axes = {ax for ax in axes if ax < x.ndim and shape[ax] == 1}
    if not axes:
        return x
    return x.reshape(tuple(size for ax, size in enumerate(shape) if ax not in axes))


def unsqueeze(x, dim: int):
    """`x` with a new axis of size 1 at position `dim` (-ndim - 1 <= dim <= ndim)."""
    x = as_input(x, "unsqueeze")
    axis = _checked_axis(dim, x.ndim + 1, "unsqueeze")
    return x.reshape((*x.shape[:axis], 1, *x.shape[axis:]))


def expand(x, *sizes):
    """`x` repeated along size-1 axes and new leading axes to `sizes` (-1 keeps an axis), as `torch.expand`."""
    x = as_input(x, "expand")
    sizes = _shape_arguments(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(
            f"expand(): {len(sizes)} sizes {sizes} are fewer than the tensor's {x.ndim} dimensions"
        )
    target = []
    for i, size in enumerate(sizes):
        if size == -1:
            if i < lead:
                raise ValueError(f"expand(): -1 is not allowed for the new leading dimension {i} in {sizes}")
            size = x.shape[i - lead]
        elif i >= lead and x.shape[i - lead] not in (1, size):
            raise ValueError(
                f"expand(): cannot expand the tensor of shape {x.shape} to {sizes}: dim {i} is not 1"
            )
        target.append(int(size))
    target = tuple(target)
    return x if target == x.shape else x.broadcast_to(target)


def expand_as(x, other):
    """`x.expand(other.shape)`."""
    return expand(x, as_input(other, "expand_as").shape)


expose("squeeze", squeeze)
expose("unsqueeze", unsqueeze)
expose("expand", expand)
expose("expand_as", expand_as)


@register("flip")
class Flip(Op):
    """The elements in reverse order along `dims`, as `torch.flip` (`x.flip(0)`, `x.flip(0, 1)`, `tg.flip(x, (0, 1))`)."""

    __slots__ = ("axes",)
    name = "flip"

    def __init__(self, axes):
        self.axes = axes

    @classmethod
    def call(cls, x, *dims):
        x = as_input(x, "flip")
        ndim = max(x.ndim, 1)
        axes = tuple(sorted({_checked_axis(d, ndim, "flip") for d in _dims(dims)}))
        if x.ndim == 0 or not axes:
            return x
        return apply(cls(axes), x)

    def forward(self, a):
        return np.flip(a, self.axes)

    def backward(self, grad, a, out):
        return flip(grad, self.axes)

    def describe(self):
        return f"flip{self.axes}"
