"""Matrix products: `matmul` with NumPy's rules, and the fused `linear` layer product."""

from __future__ import annotations

import numpy as np

from .base import Op


class MatMul(Op):
    """`a @ b` with NumPy semantics: 1-D operands are promoted to matrices and batch axes broadcast."""

    __slots__ = ()
    name = "matmul"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs operands with at least one dimension; use * for scalars")
        self.saved = (a, b)
        return np.asarray(a @ b)

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_grad
        # Work with matrices: a 1-D `a` is a row, a 1-D `b` a column, and the output grows the matching axis.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        # the column axis first: for vector @ vector the gradient is 0-d and has no axis -2 until then
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        grad_a = grad_b = None
        if need_a:
            grad_a = g2 @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if need_b:
            grad_b = np.swapaxes(a2, -1, -2) @ g2
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b


class Linear(Op):
    """`x @ weight.T + bias` in one node, as `torch.nn.functional.linear`: x (..., in), weight (out, in)."""

    __slots__ = ()
    name = "linear"

    def forward(self, x, weight, bias=None):
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                f"(weight is (out_features, in_features), so the input's last axis must be {weight.shape[-1]})"
            )
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(
                f"linear: bias of shape {bias.shape} does not match weight of shape {weight.shape}"
            )
        self.saved = (x, weight)
        out = x @ weight.T
        if bias is not None:
            if bias.dtype == out.dtype:
                out += bias  # in place: the product is a fresh array, so no extra temporary
            else:
                out = out + bias
        return out

    def backward(self, grad):
        x, weight = self.saved
        needs = self.needs_grad
        grad_x = grad @ weight if needs[0] else None
        # fold batch axes (or lift a single row) so the weight's gradient is one matrix product
        if x.ndim != 2:
            x = x.reshape(-1, x.shape[-1])
            grad = grad.reshape(-1, grad.shape[-1])
        # straight into the optimizer's gradient buffer where there is one (out=None: a new array)
        grad_w = np.matmul(grad.T, x, out=self._grad_buffer_for(1)) if needs[1] else None
        grad_b = None
        if len(needs) > 2 and needs[2]:
            grad_b = np.add.reduce(grad, axis=0, out=self._grad_buffer_for(2))
        return grad_x, grad_w, grad_b
