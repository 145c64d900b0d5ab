"""The base of every recorded operation."""

from __future__ import annotations

import numpy as np

from ..grad_mode import WalkMode


class Op:
    """One node of the graph: `forward` computes the output, `backward` the gradients of the inputs.

    `forward(*arrays)` receives the inputs' ndarrays and returns the output's. What it learns that is not
    differentiable (a mask, a shape, the indices it picked) it may keep in `self.saved`.

    `backward(grad, *inputs, out)` receives the output's gradient, the inputs and the output, and returns one
    gradient per input (a single value for one input; None where `self.needs_grad[i]` is False). All of them
    are of one kind: ndarrays in a first-order backward, recorded Tensors under `backward(create_graph=True)`.
    A derivative is written once, with operators, the methods ndarrays and Tensors share (`sum`, `reshape`,
    `swapaxes`, `.T`, indexing) and the functions of `ops.generic`, so that the same formula trains the model
    and can be differentiated again.

    The engine does the rest: it records the node, reduces each gradient to its input's shape (broadcasting),
    casts it to the input's dtype, accumulates it, and checks what an op hands back (the same array to two
    inputs, or a view of one in another, is never reused in place). `self.times` is the one in-place speed-up
    an op may ask for. `sequence_nr` numbers the recorded nodes in order; backward runs them from the highest.
    """

    __slots__ = ("grad_owned", "hooks", "inputs", "needs_grad", "out", "saved", "sequence_nr")

    #: the name shown in the graph drawing and in error messages
    name = "op"
    #: how many tensors the op takes (None: a sequence of them, e.g. `cat`)
    arity = 1

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad, *inputs, out):
        raise NotImplementedError

    def times(self, grad, factor):
        """grad * factor; computed in place where the engine says this node owns `grad` (first order only)."""
        if self.grad_owned:
            grad *= factor
            return grad
        return grad * factor

    def grad_out(self, index: int):
        """Where the engine would like input `index`'s gradient written (`out=` of a NumPy call), or None.

        That is a leaf's preallocated gradient memory (`Tensor._grad_buffer`, which an optimizer sets) while the leaf
        has no gradient yet, appears once among the inputs and has no hooks, in a first-order backward.
        Writing there instead of into a fresh array saves a copy and, for a weight matrix, a page fault per
        4 KB. A formula passes it on through `ops.generic` (`matmul(a, b, out=...)`), which ignores it for
        Tensors, so the formula stays one.
        """
        if not WalkMode.leaf_buffers:
            return None
        tensor = self.inputs[index]
        buffer = tensor._grad_buffer
        if buffer is None or tensor.grad is not None or tensor._node is not None or tensor._hooks is not None:
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
