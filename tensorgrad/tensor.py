"""`Tensor`: an ndarray that records the operations applied to it, so that `backward()` can differentiate them."""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from . import ops
from .autograd import run_backward
from .grad_mode import _GradMode

_new = object.__new__
_recorded = itertools.count()  # numbers the recorded ops in order


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    >>> x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * 3 + 1).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[3., 3.]])
    """

    __slots__ = ("__weakref__", "_grad_buffer", "_node", "_requires_grad", "data", "grad", "name")
    # NumPy defers to our reflected operators (ndarray + Tensor -> Tensor.__radd__) instead of broadcasting
    # over a Tensor as if it were an object.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        self.data = _as_array(data, copy=False)
        self.grad = None
        self._node = None
        self._requires_grad = False
        self.name = name
        # An array backward writes this leaf's gradient into when .grad is None (an optimizer's flat buffer).
        self._grad_buffer = None
        self.requires_grad = requires_grad

    # ----- attributes users know from PyTorch and NumPy
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, not dtype {self.data.dtype}")
        if self._node is not None and not value:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; use detach() to get a tensor "
                "that does not require grad"
            )
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        """The op that produced this tensor (None for leaves)."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    def __array__(self, dtype=None, copy=None):
        if copy is False and dtype is not None and np.dtype(dtype) != self.data.dtype:
            raise ValueError(f"cannot convert a {self.data.dtype} tensor to {np.dtype(dtype)} without a copy")
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    # ----- leaving the graph
    def detach(self) -> Tensor:
        """The same data, cut off from the graph (shares memory, like PyTorch)."""
        return _make(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shares memory). Refuses tensors that require grad, as PyTorch does."""
        if self._requires_grad:
            raise RuntimeError(
                "can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()"
            )
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    # ----- the backward pass
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into the `.grad` of every leaf it depends on.

        A non-scalar tensor needs `grad`, the gradient of some scalar with respect to it (same shape).
        Without `retain_graph=True` the graph's saved arrays are released afterwards.
        """
        if not self._requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph behind it")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {self.shape}; "
                    "pass backward(grad) with a gradient of that shape"
                )
            grad, shared = np.empty(self.data.shape, self.data.dtype), False
            grad.fill(1)  # (np.ones is a Python function, a few microseconds more per step)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(grad): grad has shape {grad.shape}, the tensor has shape {self.shape}"
                )
            grad, shared = grad.astype(self.dtype, copy=False), True
        run_backward(self, grad, shared, retain_graph)

    # ----- arithmetic
    def __add__(self, other):
        return apply(ops.Add(), self, _operand(other, self))

    def __radd__(self, other):
        return apply(ops.Add(), _operand(other, self), self)

    def __sub__(self, other):
        return apply(ops.Sub(), self, _operand(other, self))

    def __rsub__(self, other):
        return apply(ops.Sub(), _operand(other, self), self)

    def __mul__(self, other):
        return apply(ops.Mul(), self, _operand(other, self))

    def __rmul__(self, other):
        return apply(ops.Mul(), _operand(other, self), self)

    def __truediv__(self, other):
        return apply(ops.Div(), self, _operand(other, self))

    def __rtruediv__(self, other):
        return apply(ops.Div(), _operand(other, self), self)

    def __pow__(self, other):
        return apply(ops.Pow(), self, _operand(other, self))

    def __rpow__(self, other):
        return apply(ops.Pow(), _operand(other, self), self)

    def __matmul__(self, other):
        return apply(ops.MatMul(), self, _operand(other, self))

    def __rmatmul__(self, other):
        return apply(ops.MatMul(), _operand(other, self), self)

    def __neg__(self):
        return apply(ops.Neg(), self)

    def __pos__(self):
        return self

    # ----- comparisons: element-wise, no gradient (hashing stays by identity, as in PyTorch)
    __hash__ = object.__hash__

    def __eq__(self, other):
        return _make(np.asarray(self.data == _raw(other)))

    def __ne__(self, other):
        return _make(np.asarray(self.data != _raw(other)))

    def __lt__(self, other):
        return _make(np.asarray(self.data < _raw(other)))

    def __le__(self, other):
        return _make(np.asarray(self.data <= _raw(other)))

    def __gt__(self, other):
        return _make(np.asarray(self.data > _raw(other)))

    def __ge__(self, other):
        return _make(np.asarray(self.data >= _raw(other)))

    # ----- reductions
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """Sum over `axis` (None: all, an int, or a tuple of ints)."""
        return apply(ops.Sum(axis, keepdims), self)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """Mean over `axis`; float32 stays float32."""
        if self.data.dtype.kind not in "fc":
            raise TypeError(
                f"mean() needs a floating-point tensor, not dtype {self.dtype}; use .float() first"
            )
        return apply(ops.Mean(axis, keepdims), self)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """Maximum over `axis`; tied maxima share the gradient equally."""
        return apply(ops.Max(axis, keepdims), self)

    def argmax(self, axis=None, keepdims: bool = False) -> Tensor:
        """Indices of the maxima (int64, no gradient)."""
        return _make(np.asarray(self.data.argmax(axis=axis, keepdims=keepdims)))

    # ----- shape
    def reshape(self, *shape) -> Tensor:
        """The same elements in a new shape: `x.reshape(2, 3)` or `x.reshape((2, 3))`; one size may be -1."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply(ops.Reshape(shape), self)

    view = reshape

    def flatten(self, start_dim: int = 0) -> Tensor:
        """Merge the axes from `start_dim` on into one (as `torch.flatten`)."""
        start_dim %= max(self.ndim, 1)
        return self.reshape(*self.shape[:start_dim], -1)

    def transpose(self, dim0: int | None = None, dim1: int | None = None) -> Tensor:
        """`x.transpose()` reverses the axes (as NumPy's); `x.transpose(d0, d1)` swaps two (as PyTorch's)."""
        if dim0 is None and dim1 is None:
            return apply(ops.Permute(range(self.ndim - 1, -1, -1)), self)
        if dim0 is None or dim1 is None:
            raise TypeError("transpose() takes no axes (reverse them all) or two axes to swap")
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return apply(ops.Permute(axes), self)

    def permute(self, *axes) -> Tensor:
        """Reorder the axes: output axis i is input axis `axes[i]`."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return apply(ops.Permute(axes), self)

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __getitem__(self, index) -> Tensor:
        return apply(ops.GetItem(_raw_index(index)), self)

    # ----- element-wise functions
    def exp(self) -> Tensor:
        return apply(ops.Exp(), self)

    def log(self) -> Tensor:
        return apply(ops.Log(), self)

    def relu(self) -> Tensor:
        return apply(ops.ReLU(), self)

    def tanh(self) -> Tensor:
        return apply(ops.Tanh(), self)

    def sigmoid(self) -> Tensor:
        return apply(ops.Sigmoid(), self)

    def softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.Softmax(axis), self)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.LogSoftmax(axis), self)

    # ----- dtype
    def to(self, dtype) -> Tensor:
        """This tensor in another dtype; the gradient flows back in the original dtype."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if self._requires_grad and dtype.kind not in "fc":
            return self.detach().to(dtype)
        return apply(ops.Cast(dtype), self)

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)


def apply(op: ops.Op, *inputs: Tensor) -> Tensor:
    """Run `op` on the inputs' data; record it in the graph if recording is on and any input requires grad."""
    # Every op of every step passes here, so ops of one to three inputs (nearly all) skip the generic
    # comprehensions: that halves this function's own cost.
    try:
        if len(inputs) == 2:
            a, b = inputs
            out = op.forward(a.data, b.data)
            needs_grad = (a._requires_grad, b._requires_grad)
        elif len(inputs) == 1:
            a = inputs[0]
            out = op.forward(a.data)
            needs_grad = (a._requires_grad,)
        elif len(inputs) == 3:  # linear with a bias
            a, b, c = inputs
            out = op.forward(a.data, b.data, c.data)
            needs_grad = (a._requires_grad, b._requires_grad, c._requires_grad)
        else:
            out = op.forward(*[t.data for t in inputs])
            needs_grad = tuple([t._requires_grad for t in inputs])
    except ValueError as error:
        shapes = " and ".join(str(t.data.shape) for t in inputs)
        raise ValueError(f"{op.name}: input shapes {shapes}: {error}") from None
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)  # NumPy returns scalars for 0-d results; a tensor always holds an ndarray
    if True in needs_grad and _GradMode.enabled:
        op.inputs = inputs
        op.needs_grad = needs_grad
        op.sequence_nr = next(_recorded)  # backward runs nodes from the latest recorded down
        tensor = _new(Tensor)  # _make, inlined: this is the hottest path of the engine
        tensor.data = out
        tensor.grad = None
        tensor._node = op
        tensor._requires_grad = True
        tensor.name = None
        tensor._grad_buffer = None
        return tensor
    return _make(out)


def _make(data: np.ndarray, requires_grad: bool = False, node=None) -> Tensor:
    """A tensor around `data` as it is: the engine's fast path, with no checks and no copy."""
    tensor = _new(Tensor)
    tensor.data = data
    tensor.grad = None
    tensor._node = node
    tensor._requires_grad = requires_grad
    tensor.name = None
    tensor._grad_buffer = None
    return tensor


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """A new leaf tensor holding a copy of `data`.

    Python floats (and lists of them) become float32; an ndarray keeps its float dtype; ints stay ints.
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(_as_array(data, dtype=dtype, copy=True), requires_grad=requires_grad, name=name)


def _as_array(data, dtype=None, copy: bool = False) -> np.ndarray:
    """`data` as an ndarray, with PyTorch's default of float32 for Python floats."""
    if isinstance(data, Tensor):
        data = data.data
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    array = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    if dtype is None and not from_numpy and array.dtype == np.float64:
        array = array.astype(np.float32)
    if array.dtype == object:
        raise TypeError(f"cannot make a tensor from {type(data).__name__}: it has no numeric dtype")
    return array


def _operand(value, like: Tensor) -> Tensor:
    """The other operand of a binary op as a tensor.

    Scalars (Python, NumPy, or 0-d arrays) take the float dtype of the tensor they meet, so that a float32
    computation never turns float64 because of a constant. Arrays keep their dtype (NumPy's promotion).
    """
    if isinstance(value, Tensor):
        return value
    dtype = like.data.dtype
    if value.__class__ is float and dtype.kind == "f":  # the common case, first
        return _make(np.asarray(value, dtype=dtype), False, None)
    if isinstance(value, numbers.Number) or (isinstance(value, np.ndarray) and value.ndim == 0):
        if dtype.kind in "fc":
            return _make(np.asarray(value, dtype=dtype), False, None)
        if isinstance(value, (float, np.floating)):
            return _make(np.asarray(value, dtype=np.float32), False, None)
        return _make(np.asarray(value), False, None)
    if isinstance(value, (np.ndarray, list, tuple)):
        return _make(_as_array(value), False, None)
    raise TypeError(f"unsupported operand of type {type(value).__name__} for a Tensor operation")


def _raw(value):
    return value.data if isinstance(value, Tensor) else value


def _raw_index(index):
    """An index with any tensors in it replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(_raw(part) for part in index)
    return _raw(index)
