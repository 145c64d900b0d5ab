"""Recording ops into the graph (`apply`) and walking it back (`run_backward`), without recursion."""

from __future__ import annotations

import itertools
from heapq import heappop, heappush

import numpy as np

from ..grad_mode import WalkMode, _GradMode
from ..tensor import Tensor, _make

_recorded = itertools.count()  # numbers the recorded ops in order

RELEASED_GRAPH_MESSAGE = (
    "Trying to backward through the graph a second time, but its saved arrays were already released "
    "by the first backward(). Call backward(retain_graph=True) the first time if you need to do this."
)


def apply(op, *inputs: Tensor) -> Tensor:
    """Run `op` on the inputs' data; record it in the graph if recording is on and any input requires grad."""
    # Every op of every step passes here, so ops of one to three inputs (nearly all) skip the generic
    # comprehensions: that halves this function's own cost.
    try:
        if len(inputs) == 2:
            a, b = inputs
            out = op.forward(a.data, b.data)
            record = a._requires_grad or b._requires_grad
        elif len(inputs) == 1:
            a = inputs[0]
            out = op.forward(a.data)
            record = a._requires_grad
        elif len(inputs) == 3:  # linear with a bias
            a, b, c = inputs
            out = op.forward(a.data, b.data, c.data)
            record = a._requires_grad or b._requires_grad or c._requires_grad
        else:
            out = op.forward(*[t.data for t in inputs])
            record = any([t._requires_grad for t in inputs])
    except ValueError as error:
        shapes = " and ".join(str(t.data.shape) for t in inputs)
        raise ValueError(f"{op.name}: input shapes {shapes}: {error}") from None
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)  # NumPy returns scalars for 0-d results; a tensor always holds an ndarray
    if record and _GradMode.enabled:
        op.inputs = inputs
        op.needs_grad = tuple([t._requires_grad for t in inputs])
        op.sequence_nr = next(_recorded)  # backward runs nodes from the latest recorded down
        op.out = out
        op.hooks = None
        return _make(out, True, op)
    return _make(out)


def run_backward(roots, seeds, retain_graph: bool, create_graph: bool, capture: dict | None = None):
    """Send each root's seed gradient back through the graph, into the leaves that require grad.

    `seeds` are ndarrays for a first-order pass, Tensors under `create_graph` (then every derivative is
    recorded, and the leaves' `.grad` become graphs themselves). With `capture` (a dict from input tensors
    to positions, as `autograd.grad` builds it) no `.grad` is touched: the captured gradients are returned.

    Nodes run from the most recently recorded down (as PyTorch orders them): a node's output was made after
    its inputs, so everything that consumes it was recorded later and has run - and sent its gradient - by
    the time it runs. So a tensor used many times gets the sum of its gradients before passing it on, and
    no pass over the graph is needed beforehand to count the uses.
    """
    previous_mode = _GradMode.enabled
    _GradMode.enabled = create_graph  # a create_graph backward records its ops; a first-order one runs on arrays
    WalkMode.leaf_buffers = not create_graph and capture is None
    try:
        return _walk(roots, seeds, retain_graph, create_graph, capture)
    finally:
        _GradMode.enabled = previous_mode
        WalkMode.leaf_buffers = False


def _walk(roots, seeds, retain_graph, create_graph, capture):
    # Ids of arrays that more than one place may see: no op or leaf may then overwrite them in place.
    shared = set()
    captured = {} if capture is not None else None
    hooked_leaves = {}  # leaf -> its gradient so far, for leaves whose hooks must see the whole of it
    grads = {}
    pending = []  # a heap: the latest recorded node first

    def deliver(tensor, grad):
        """Hand a gradient to a leaf (or to what `capture` collects)."""
        if capture is not None:
            if tensor in capture:
                _collect(captured, tensor, grad, shared, create_graph)
        elif tensor._hooks is not None:
            previous = hooked_leaves.get(tensor)
            hooked_leaves[tensor] = grad if previous is None else previous + grad
        else:
            _accumulate_into_leaf(tensor, grad, shared, create_graph)

    for root, seed in zip(roots, seeds):
        if not create_graph:
            shared.add(id(seed))  # the caller's array: never overwritten
        node = root._node
        if node is None:  # backward() on a leaf
            deliver(root, seed)
            continue
        if node.inputs is None:
            raise RuntimeError(RELEASED_GRAPH_MESSAGE)
        if node in grads:
            grads[node] = grads[node] + seed
        else:
            grads[node] = seed
            heappush(pending, (-node.sequence_nr, node))

    while pending:
        node = heappop(pending)[1]
        grad = grads.pop(node)
        if node.hooks is not None:
            grad = _run_hooks(node.hooks, grad, create_graph, node)
            shared.add(id(grad))
        if capture is not None and node in capture:
            _collect(captured, node, grad, shared, create_graph)
        inputs = node.inputs
        if create_graph:
            node.grad_owned = False  # a recorded gradient is never overwritten (Op.times reads this)
            input_grads = node.backward(grad, *inputs, out=_make(node.out, True, node))
        else:
            # An op may overwrite `grad` only if nothing else can see it: a fresh array (not a view) that no
            # other node or leaf holds.
            node.grad_owned = grad.base is None and id(grad) not in shared
            if len(inputs) == 1:
                input_grads = node.backward(grad, inputs[0].data, out=node.out)
            elif len(inputs) == 2:
                input_grads = node.backward(grad, inputs[0].data, inputs[1].data, out=node.out)
            else:
                input_grads = node.backward(grad, *[t.data for t in inputs], out=node.out)
        if input_grads.__class__ is not tuple:
            input_grads = (input_grads,)
        elif len(input_grads) > 1 and not create_graph:
            _mark_aliases(input_grads, shared)
        if len(input_grads) != len(inputs):
            raise RuntimeError(
                f"{node.name}: backward returned {len(input_grads)} gradients for {len(inputs)} inputs"
            )
        for tensor, input_grad in zip(inputs, input_grads):
            if input_grad is None or not tensor._requires_grad:
                continue
            data = tensor.data
            if input_grad.shape != data.shape:  # undo broadcasting
                input_grad = input_grad.sum_to_size(data.shape) if create_graph else sum_to(input_grad, data.shape)
            if input_grad.dtype is not data.dtype and input_grad.dtype != data.dtype:
                input_grad = input_grad.to(data.dtype) if create_graph else input_grad.astype(data.dtype)
            child = tensor._node
            if child is None:
                if input_grad is tensor._grad_buffer and tensor.grad is None:
                    tensor.grad = _make(input_grad)  # the op wrote it in place (Op.grad_out): nothing to copy
                else:
                    deliver(tensor, input_grad)
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
            node.out = None

    for leaf, grad in hooked_leaves.items():
        grad = _run_hooks(leaf._hooks, grad, create_graph, leaf)
        shared.add(id(grad))
        _accumulate_into_leaf(leaf, grad, shared, create_graph)
    return captured


def sum_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, so that it gets `shape`."""
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = np.add.reduce(grad, axis=axes, keepdims=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


def _mark_aliases(input_grads: tuple, shared: set) -> None:
    """Mark arrays that an op handed to more than one input (itself, or a view of it) as shared."""
    seen = set()
    for grad in input_grads:
        if grad is None:
            continue
        base = grad.base
        key = id(grad if base is None else base)
        if key in seen:
            shared.add(key)
        seen.add(key)


def _run_hooks(hooks: list, grad, create_graph: bool, owner):
    """Pass `grad` through the hooks registered on a tensor; each may return a replacement."""
    current = grad if create_graph else _make(grad)
    for hook in list(hooks):
        result = hook(current)
        if result is None:
            continue
        if not isinstance(result, Tensor):
            result = _make(np.asarray(result))
        if result.shape != current.shape:
            raise RuntimeError(
                f"a hook returned a gradient of shape {result.shape} for a tensor of shape {current.shape}"
            )
        current = result
    return current if create_graph else current.data


def _collect(captured: dict, key, grad, shared: set, create_graph: bool) -> None:
    if not create_graph:
        shared.add(id(grad))  # the caller gets this array: nothing may overwrite it later in the walk
    previous = captured.get(key)
    captured[key] = grad if previous is None else previous + grad


def _accumulate_into_leaf(leaf, grad, shared: set, create_graph: bool) -> None:
    """Add `grad` to `leaf.grad`, in place when it already holds an array of its own."""
    current = leaf.grad
    if create_graph:  # the gradient is a graph of its own: add out of place, so it stays one
        leaf.grad = grad if current is None else current + grad
        return
    if current is None:
        buffer = leaf._grad_buffer
        if buffer is not None and buffer.shape == grad.shape:
            # A copy into memory already paged in beats keeping a fresh array: a new gradient array the size
            # of a weight matrix costs a page fault per 4 KB, every step.
            np.copyto(buffer, grad)
            leaf.grad = _make(buffer)
            return
        # A leaf's .grad is its own, writable array (optimizers and clip_grad_norm_ update it in place),
        # so anything that may be seen elsewhere - a view, the incoming gradient itself - is copied.
        if grad.base is not None or id(grad) in shared or not grad.flags.writeable:
            grad = np.array(grad)
        shared.add(id(grad))
        leaf.grad = _make(grad)
        return
    held = current.data
    if (
        current._node is None
        and not current._requires_grad
        and held.shape == grad.shape
        and held.dtype == grad.dtype
        and held.flags.writeable
    ):
        held += grad
    else:  # a .grad that is a graph (from an earlier create_graph backward) is never changed in place
        leaf.grad = _make(held + grad)
