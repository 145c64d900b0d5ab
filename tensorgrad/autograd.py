"""The backward pass: walk the graph from a root in reverse order of recording, without recursion."""

from __future__ import annotations

from heapq import heappop, heappush

import numpy as np

from . import tensor as _tensor  # a cycle (tensor.py imports this module): only read at call time
from .ops.base import sum_to

RELEASED_GRAPH_MESSAGE = (
    "Trying to backward through the graph a second time, but its saved arrays were already released "
    "by the first backward(). Call backward(retain_graph=True) the first time if you need to do this."
)


def run_backward(root, grad: np.ndarray, grad_is_shared: bool, retain_graph: bool) -> None:
    """Accumulate d(root)/d(leaf), seeded with `grad`, into the `.grad` of every leaf that requires grad.

    Nodes run from the most recently recorded down (as PyTorch orders them): a node's output was made after
    its inputs, so everything that consumes it was recorded later and has run - and sent its gradient - by
    the time it runs. So a tensor used many times gets the sum of its gradients before passing it on, and
    no pass over the graph is needed beforehand to count the uses.
    """
    make_tensor = _tensor._make
    shared = {id(grad)} if grad_is_shared else set()
    node = root._node
    if node is None:  # backward() on a leaf
        _accumulate_into_leaf(root, grad, shared)
        return
    if node.inputs is None:
        raise RuntimeError(RELEASED_GRAPH_MESSAGE)

    grads = {node: grad}
    pending = [(-node.sequence_nr, node)]  # a heap: the latest recorded node first
    while pending:
        node = heappop(pending)[1]
        grad = grads.pop(node)
        # An op may overwrite `grad` only if nothing else can see it: a fresh array (not a view) that no other
        # node or leaf holds. It stays owned where the op hands it on, unless it goes to two inputs.
        owned = grad.base is None and id(grad) not in shared
        node.grad_owned = owned
        input_grads = node.backward(grad)
        if owned and len(input_grads) > 1:
            handed_on = 0
            for input_grad in input_grads:
                if input_grad is grad:
                    handed_on += 1
            if handed_on > 1:
                shared.add(id(grad))
        for tensor, input_grad in zip(node.inputs, input_grads):
            if input_grad is None or not tensor._requires_grad:
                continue
            data = tensor.data
            if input_grad.shape != data.shape:
                input_grad = sum_to(input_grad, data.shape)
            if input_grad.dtype is not data.dtype and input_grad.dtype != data.dtype:
                input_grad = input_grad.astype(data.dtype)
            child = tensor._node
            if child is None:
                if input_grad is tensor._grad_buffer and tensor.grad is None:
                    # the op wrote it straight into the leaf's buffer (Op._grad_buffer_for): nothing to copy
                    tensor.grad = make_tensor(input_grad)
                else:
                    _accumulate_into_leaf(tensor, input_grad, shared)
                continue
            previous = grads.get(child)
            if previous is not None:
                grads[child] = previous + input_grad
                continue
            if child.inputs is None:
                raise RuntimeError(RELEASED_GRAPH_MESSAGE)
            grads[child] = input_grad
            heappush(pending, (-child.sequence_nr, child))
        if not retain_graph:  # drop the saved arrays and the links to the inputs, so memory can be freed
            node.saved = None
            node.inputs = None


def _accumulate_into_leaf(leaf, grad, shared: set) -> None:
    """Add `grad` to `leaf.grad`, in place when it already holds an array of its own."""
    make_tensor = _tensor._make
    current = leaf.grad
    if current is None:
        buffer = leaf._grad_buffer
        if buffer is not None and buffer.shape == grad.shape:
            # A copy into memory already paged in beats keeping a fresh array: a new gradient array the size
            # of a weight matrix costs a page fault per 4 KB, every step.
            np.copyto(buffer, grad)
            leaf.grad = make_tensor(buffer)
            return
        # A leaf's .grad is its own, writable array (optimizers and clip_grad_norm_ update it in place),
        # so anything that may be seen elsewhere - a view, the incoming gradient itself - is copied.
        if grad.base is not None or id(grad) in shared or not grad.flags.writeable:
            grad = np.array(grad)
        shared.add(id(grad))
        leaf.grad = make_tensor(grad)
        return
    held = current.data
    if held.shape == grad.shape and held.dtype == grad.dtype and held.flags.writeable:
        held += grad
    else:
        leaf.grad = make_tensor(held + grad)
