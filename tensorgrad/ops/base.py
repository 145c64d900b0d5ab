"""The base of every recorded operation, and the one place where broadcasting is undone."""

from __future__ import annotations

import numpy as np


class Op:
    """One node of the graph: computes its output in `forward` and its inputs' gradients in `backward`.

    A subclass states only its local derivative. The engine does the rest: it records the node, reduces each
    returned gradient to its input's shape (broadcasting), casts it to the input's dtype, accumulates it, and
    skips inputs that need no gradient (`self.needs_grad[i]` is False for those, so `backward` may return None).

    `forward` receives ndarrays and stores what `backward` needs in `self.saved`; releasing the graph drops it.
    `backward` receives the output's gradient and returns one gradient (or None) per input: new arrays, the
    argument itself, or views of it, but never one new array for two inputs. It may overwrite its argument
    only when the engine says it owns it (`self.grad_owned`): `_times` does that for the common case.
    `sequence_nr` numbers the recorded nodes in order; backward runs them from the highest down.
    """

    __slots__ = ("grad_owned", "inputs", "needs_grad", "saved", "sequence_nr")

    #: the name shown in the graph drawing and in error messages
    name = "op"

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple:
        raise NotImplementedError

    def _times(self, grad: np.ndarray, factor) -> np.ndarray:
        """grad * factor, computed in place when this op owns `grad` (saves an allocation per backward)."""
        if self.grad_owned:
            grad *= factor
            return grad
        return grad * factor

    def _grad_buffer_for(self, index: int):
        """An array to write input `index`'s gradient into directly, or None.

        That is the preallocated gradient buffer (an optimizer's flat buffer) of a leaf input that has no
        gradient yet and appears once among the inputs: returning it saves a fresh array, which for a weight
        matrix means a page fault per 4 KB. The engine recognizes it and does not copy it again.
        """
        tensor = self.inputs[index]
        buffer = tensor._grad_buffer
        if buffer is None or tensor.grad is not None or tensor._node is not None:
            return None
        for i, other in enumerate(self.inputs):
            if other is tensor and i != index:
                return None
        return buffer

    @property
    def released(self) -> bool:
        """True once backward() dropped the saved arrays and the links to the inputs (no retain_graph)."""
        return self.inputs is None

    def describe(self) -> str:
        """The label of this node in a graph drawing: the op's name and its parameters."""
        return self.name

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


def sum_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, so that it gets `shape`."""
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if lead:
        grad = grad.reshape(shape)
    return grad
