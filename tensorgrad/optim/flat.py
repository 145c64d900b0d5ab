"""One contiguous buffer behind all parameters, so an optimizer step is a few vector ops in total."""

from __future__ import annotations

import numpy as np

from ..tensor import _make


class FlatParameters:
    """Moves the parameters' data into one contiguous array and keeps `param.data` as views into it.

    An update applied to `self.data` then updates every parameter at once. Gradients live in `self.grad`
    the same way: each parameter's `_grad_buffer` is its view, which backward fills when `.grad` is None,
    so a step allocates no gradient arrays and `step` reads them without a copy. If someone rebinds a
    parameter's `.data` to a new array, the next `sync()` copies it in and points the parameter at its view
    again, so the buffer never goes stale.
    """

    def __init__(self, params: list):
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) != 1:
            raise TypeError(f"an optimizer's parameters must share one dtype, got {sorted(map(str, dtypes))}")
        self.params = params
        self.sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int).tolist()
        self.data = np.empty(self.offsets[-1], dtype=dtypes.pop())
        self.grad = np.zeros_like(self.data)
        self.views = []
        self.grad_views = []
        for param, start, stop in zip(params, self.offsets, self.offsets[1:]):
            view = self.data[start:stop].reshape(param.data.shape)
            view[...] = param.data
            param.data = view
            self.views.append(view)
            self.grad_views.append(self.grad[start:stop].reshape(view.shape))
        self.grad_tensors = [_make(grad_view) for grad_view in self.grad_views]
        for param, grad_view in zip(params, self.grad_views):
            # backward writes a parameter's first gradient of a step straight into its view (see autograd)
            param._grad_buffer = grad_view

    def slices(self):
        """(parameter index, slice of the flat buffers) for each parameter."""
        return [
            (i, slice(start, stop)) for i, (start, stop) in enumerate(zip(self.offsets, self.offsets[1:]))
        ]

    def sync(self) -> None:
        """Re-adopt any parameter whose `.data` was replaced since the last step."""
        for param, view in zip(self.params, self.views):
            if param.data is not view:
                if param.data.shape != view.shape:
                    raise ValueError(
                        f"a parameter's data changed shape from {view.shape} to {param.data.shape} "
                        "after the optimizer was created"
                    )
                view[...] = param.data
                param.data = view

    def zero_grads(self) -> None:
        """Zero the flat gradient in one fill and point every `param.grad` at its view of it."""
        self.grad.fill(0)
        for param, grad_tensor in zip(self.params, self.grad_tensors):
            if param.grad is not grad_tensor:
                param.grad = grad_tensor

    def gather_grads(self) -> list:
        """Make `self.grad` hold every parameter's gradient; returns the indices of those that have one.

        Gradients that already live in the flat buffer (after `zero_grads`) stay where they are; any other
        gradient (set to None and recomputed, or assigned by hand) is copied in.
        """
        present = []
        for i, (param, grad_view) in enumerate(zip(self.params, self.grad_views)):
            grad = param.grad
            if grad is None:
                continue
            if grad.data is not grad_view:
                grad_view[...] = grad.data
            present.append(i)
        return present
