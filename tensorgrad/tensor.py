"""`Tensor`: an ndarray that records the operations applied to it, so that they can be differentiated.

This file holds the Tensor itself: its fields, its attributes and how it converts to other things. The ops a
tensor has as methods (`x.exp()`, `x + y`, `x.sum()`) are installed by `ops.registry`, one line per op;
recording them and walking the graph back live together in `autograd.engine`.
"""

from __future__ import annotations

import weakref

import numpy as np

from .dtypes import as_array

_new = object.__new__

NUMPY_REFUSED_MESSAGE = (
    "can't convert a tensor that requires grad to a NumPy array: that would cut it out of the graph without "
    "a word. Use tensor.detach().numpy() (or tensor.detach() inside NumPy functions)"
)


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    >>> x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * 3 + 1).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[3., 3.]])
    """

    __slots__ = ("__weakref__", "_grad_buffer", "_hooks", "_node", "_requires_grad", "data", "grad", "name")
    # NumPy defers to our reflected operators (ndarray + Tensor -> Tensor.__radd__) instead of broadcasting
    # over a Tensor as if it were an object.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        _fill(self, as_array(data), None, False)
        self.name = name
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

    def dim(self) -> int:
        return self.data.ndim

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
        # np.asarray(t) and NumPy functions land here: for a tensor in the graph that would silently cut it out
        if self._requires_grad:
            raise RuntimeError(NUMPY_REFUSED_MESSAGE)
        if copy is False and dtype is not None and np.dtype(dtype) != self.data.dtype:
            raise ValueError(f"cannot convert a {self.data.dtype} tensor to {np.dtype(dtype)} without a copy")
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __bool__(self) -> bool:
        leaving_graph("takes the truth value of", self)
        return bool(self.data)

    def __float__(self) -> float:
        leaving_graph("takes float() of", self)
        return float(self.data)

    def __int__(self) -> int:
        leaving_graph("takes int() of", self)
        return int(self.data)

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of one element can be used as an index, not {self.dtype}")
        return int(self.data)

    # ----- comparisons: element-wise, no gradient (hashing stays by identity, as in PyTorch)
    __hash__ = object.__hash__

    def __eq__(self, other):
        leaving_graph("compares", self, other)
        return _make(np.asarray(self.data == _raw(other)))

    def __ne__(self, other):
        leaving_graph("compares", self, other)
        return _make(np.asarray(self.data != _raw(other)))

    def __lt__(self, other):
        leaving_graph("compares", self, other)
        return _make(np.asarray(self.data < _raw(other)))

    def __le__(self, other):
        leaving_graph("compares", self, other)
        return _make(np.asarray(self.data <= _raw(other)))

    def __gt__(self, other):
        leaving_graph("compares", self, other)
        return _make(np.asarray(self.data > _raw(other)))

    def __ge__(self, other):
        leaving_graph("compares", self, other)
        return _make(np.asarray(self.data >= _raw(other)))

    def __pos__(self):
        return self

    # ----- leaving the graph
    def detach(self) -> Tensor:
        """The same data, cut off from the graph (shares memory, like PyTorch)."""
        leaving_graph("detaches", self)
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
        leaving_graph("takes the item() of", self)
        return self.data.item()

    def tolist(self):
        leaving_graph("takes tolist() of", self)
        return self.data.tolist()

    # ----- dtype (the cast itself is the op `to`)
    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    # ----- watching gradients go by
    def register_hook(self, hook) -> RemovableHandle:
        """Call `hook(grad)` with this tensor's gradient whenever backward computes it.

        The hook may return None (observe) or a tensor to use instead (replace). On a leaf it sees the whole
        gradient of one backward before it is accumulated into `.grad`. Returns a handle with `.remove()`.
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self._node
        if node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if node.hooks is None:
                node.hooks = []
            hooks = node.hooks
        # a retain_grad() entry stays last, so that .grad holds what the other hooks made of the gradient
        position = len(hooks) - 1 if hooks and isinstance(hooks[-1], RetainGrad) else len(hooks)
        hooks.insert(position, hook)
        return RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward (leaves always keep theirs)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        node = self._node
        if node is None:
            return
        if node.hooks is None:
            node.hooks = []
        if not any(isinstance(hook, RetainGrad) for hook in node.hooks):
            node.hooks.append(RetainGrad(self))

    @property
    def retains_grad(self) -> bool:
        node = self._node
        return (
            node is not None and node.hooks is not None and any(isinstance(h, RetainGrad) for h in node.hooks)
        )


class RemovableHandle:
    """What `register_hook` returns: `handle.remove()` unregisters the hook."""

    __slots__ = ("_hook", "_hooks")

    def __init__(self, hooks: list, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class RetainGrad:
    """The hook `retain_grad()` adds: it puts the gradient into the tensor's `.grad`, summing over backwards."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor):
        self.tensor = weakref.ref(tensor)  # the node must not keep its own output alive

    def __call__(self, grad: Tensor) -> None:
        tensor = self.tensor()
        if tensor is not None:
            tensor.grad = grad if tensor.grad is None else tensor.grad + grad


def _fill(tensor: Tensor, data: np.ndarray, node, requires_grad: bool) -> None:
    """Set every field of a tensor: the one place that lists them."""
    tensor.data = data
    tensor.grad = None
    tensor._node = node
    tensor._requires_grad = requires_grad
    tensor.name = None
    tensor._grad_buffer = None  # an array backward copies this leaf's first gradient into (see autograd)
    tensor._hooks = None


def _make(data: np.ndarray, requires_grad: bool = False, node=None) -> Tensor:
    """A tensor around `data` as it is: the engine's fast path, with no checks and no copy."""
    tensor = _new(Tensor)
    # _fill's body, inlined: every op of every step makes a tensor here
    tensor.data = data
    tensor.grad = None
    tensor._node = node
    tensor._requires_grad = requires_grad
    tensor.name = None
    tensor._grad_buffer = None
    tensor._hooks = None
    return tensor


def _raw(value):
    return value.data if isinstance(value, Tensor) else value


# Called, while `tensorgrad.onnx.export` records a model, with what the model does with tensors that leaves
# the graph (a comparison, argmax, detach, item): the result is no op, so export would write it as a
# constant, right for the example input alone. None otherwise.
_leaving_graph_hook = None


def set_leaving_graph_hook(hook) -> None:
    """Call `hook(action, tensors)` whenever a value leaves the graph (None: stop); for export's recording."""
    global _leaving_graph_hook
    _leaving_graph_hook = hook


def leaving_graph(action: str, *values) -> None:
    """Tell the export recording, if one runs, that `action` takes `values` out of the graph."""
    if _leaving_graph_hook is not None:
        _leaving_graph_hook(action, [value for value in values if isinstance(value, Tensor)])


def raw_index(index):
    """An index with any tensors in it replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(_raw(part) for part in index)
    return _raw(index)
