"""Matrix products: `matmul` with NumPy's rules, and the fused `linear` layer product."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from .base import Op
from .generic import matmul, sum_rows
from .registry import as_input, register


@register("matmul", operators=("__matmul__", "__rmatmul__"))
class MatMul(Op):
    """`a @ b` with NumPy semantics: 1-D operands are promoted to matrices and batch axes broadcast."""

    __slots__ = ()
    name = "matmul"
    arity = 2

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs operands with at least one dimension; use * for scalars")
        return np.asarray(a @ b)

    def backward(self, grad, a, b, out):
        need_a, need_b = self.needs_grad
        # Work with matrices: a 1-D `a` is a row, a 1-D `b` a column, and the output grows the matching axis.
        a2 = a.reshape((1, *a.shape)) if a.ndim == 1 else a
        b2 = b.reshape((*b.shape, 1)) if b.ndim == 1 else b
        g2 = grad
        # the column axis first: for vector @ vector the gradient is 0-d and has no axis -2 until then
        if b.ndim == 1:
            g2 = g2.reshape((*g2.shape, 1))
        if a.ndim == 1:
            g2 = g2.reshape((*g2.shape[:-1], 1, g2.shape[-1]))
        grad_a = grad_b = None
        if need_a:
            grad_a = g2 @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                grad_a = grad_a.reshape(grad_a.shape[:-2] + grad_a.shape[-1:])
        if need_b:
            grad_b = a2.swapaxes(-1, -2) @ g2
            if b.ndim == 1:
                grad_b = grad_b.reshape(grad_b.shape[:-1])
        return grad_a, grad_b


@register("linear", method=False)
class Linear(Op):
    """`x @ weight.T + bias` in one node, as `torch.nn.functional.linear`: x (..., in), weight (out, in)."""

    __slots__ = ()
    name = "linear"

    @classmethod
    def call(cls, x, weight, bias=None):
        """x @ weight.T + bias. x (..., in_features), weight (out_features, in_features), bias (out,)."""
        x = as_input(x, "linear")
        if bias is None:
            return apply(cls(), x, as_input(weight, "linear"))
        return apply(cls(), x, as_input(weight, "linear"), as_input(bias, "linear"))

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
        out = x @ weight.T
        if bias is not None:
            if bias.dtype == out.dtype:
                out += bias  # in place: the product is a fresh array, so no extra temporary
            else:
                out = out + bias
        return out

    def backward(self, grad, x, weight, *bias, out):
        needs = self.needs_grad
        grad_x = grad @ weight if needs[0] else None
        grad_w = None
        if needs[1]:
            # fold batch axes (or lift a single row) so the weight's gradient is one matrix product
            if x.ndim != 2:
                x = x.reshape((-1, x.shape[-1]))
                grad = grad.reshape((-1, grad.shape[-1]))
            grad_w = matmul(grad.T, x, out=self.grad_out(1))
        if not bias:
            return grad_x, grad_w
        grad_b = None
        if needs[2]:
            grad_b = grad if grad.ndim == 1 else sum_rows(grad, out=self.grad_out(2))
        return grad_x, grad_w, grad_b
