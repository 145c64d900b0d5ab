"""`backward` and `grad`, as `torch.autograd` has them, and `Tensor.backward`."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _make
from .engine import run_backward


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False):
    """Accumulate the gradients of `tensors` (seeded with `grad_tensors`) into the leaves' `.grad`."""
    roots = _as_tuple(tensors, "tensors")
    seeds = _seeds(roots, grad_tensors, create_graph)
    run_backward(roots, seeds, create_graph if retain_graph is None else retain_graph, create_graph)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
):
    """The gradients of `outputs` with respect to `inputs`, as a tuple; no `.grad` is touched.

    As `torch.autograd.grad`: `grad_outputs` seeds non-scalar outputs; with `create_graph=True` the
    gradients are graphs themselves (differentiate them again); an input the outputs do not depend on is an
    error unless `allow_unused=True`, which gives None for it.
    """
    roots = _as_tuple(outputs, "outputs")
    targets = _as_tuple(inputs, "inputs")
    for target in targets:
        if not target.requires_grad:
            raise RuntimeError("grad(): one of the inputs does not require grad, so it has no gradient")
    seeds = _seeds(roots, grad_outputs, create_graph)
    # a leaf is found by the tensor itself, an intermediate result by the op that made it
    keys = [target if target._node is None else target._node for target in targets]
    captured = run_backward(
        roots,
        seeds,
        create_graph if retain_graph is None else retain_graph,
        create_graph,
        dict.fromkeys(keys),
    )
    results = []
    for position, key in enumerate(keys):
        value = captured.get(key)
        if value is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): input {position} was not used to compute the outputs; pass allow_unused=True "
                    "to get None for it"
                )
            results.append(None)
        else:
            results.append(value if isinstance(value, Tensor) else _make(value))
    return tuple(results)


def tensor_backward(
    self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False
) -> None:
    """Accumulate the gradient of this tensor into the `.grad` of every leaf it depends on.

    A non-scalar tensor needs `gradient`, the gradient of some scalar with respect to it (same shape).
    Without `retain_graph=True` the graph's saved arrays are released afterwards. With `create_graph=True`
    the gradients are recorded too (and the graph kept), so that `.grad` can be differentiated again.
    """
    backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph)


Tensor.backward = tensor_backward


def _as_tuple(tensors, what: str) -> tuple:
    tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{what} must be Tensors, got {type(tensor).__name__}")
    return tensors


def _seeds(roots: tuple, grads, create_graph: bool) -> list:
    """The gradient each root starts with: ndarrays for a first-order pass, Tensors under create_graph."""
    if grads is None or isinstance(grads, (Tensor, np.ndarray)):
        grads = (grads,) * len(roots) if grads is None else (grads,)
    grads = tuple(grads)
    if len(grads) != len(roots):
        raise ValueError(f"got {len(grads)} gradients for {len(roots)} tensors")
    seeds = []
    for root, seed in zip(roots, grads):
        if not root._requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph behind it")
        if seed is None:
            if root.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {root.shape}; "
                    "pass backward(grad) with a gradient of that shape"
                )
            array = np.empty(root.data.shape, root.data.dtype)
            array.fill(1)  # (np.ones is a Python function, a few microseconds more per step)
            seeds.append(_make(array) if create_graph else array)
            continue
        array = seed.data if isinstance(seed, Tensor) else np.asarray(seed)
        if array.shape != root.shape:
            raise ValueError(
                f"backward(grad): grad has shape {array.shape}, the tensor has shape {root.shape}"
            )
        if create_graph:
            seed = seed if isinstance(seed, Tensor) else _make(array)
            seeds.append(seed if seed.dtype == root.dtype else seed.to(root.dtype))
        else:
            seeds.append(array.astype(root.dtype, copy=False))
    return seeds
