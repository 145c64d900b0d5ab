"""Element-wise operations. Broadcasting is undone by the engine, so each states only its local derivative."""

from __future__ import annotations

import numpy as np

from .base import Op


class Add(Op):
    __slots__ = ()
    name = "add"

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Op):
    __slots__ = ()
    name = "sub"

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, (-grad if self.needs_grad[1] else None)


class Mul(Op):
    __slots__ = ()
    name = "mul"

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_grad
        if need_a != need_b:  # one gradient (e.g. a dropout mask's input): it may reuse the incoming array
            return (self._times(grad, b), None) if need_a else (None, self._times(grad, a))
        return grad * b, grad * a


class Div(Op):
    __slots__ = ()
    name = "div"

    def forward(self, a, b):
        out = a / b
        self.saved = (b, out)
        return out

    def backward(self, grad):
        b, out = self.saved
        grad_a = grad / b
        # d(a/b)/db = -a/b**2 = -(a/b)/b, reusing the forward's quotient
        grad_b = -grad_a * out if self.needs_grad[1] else None
        return grad_a if self.needs_grad[0] else None, grad_b


class Pow(Op):
    __slots__ = ()
    name = "pow"

    def forward(self, a, b):
        out = a**b
        self.saved = (a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved
        need_a, need_b = self.needs_grad
        # where b == 0 the derivative is 0 even at a == 0 (as in PyTorch), not 0 * 0**-1 = nan
        grad_a = grad * b * a ** np.where(b == 0, 1, b - 1) if need_a else None
        # d(a**b)/db = a**b * log(a); defined only for a > 0 (a = 0 contributes nothing, as in PyTorch)
        grad_b = grad * out * np.log(np.where(a > 0, a, 1)) if need_b else None
        return grad_a, grad_b


class Neg(Op):
    __slots__ = ()
    name = "neg"

    def forward(self, a):
        return -a

    def backward(self, grad):
        return (-grad,)


class Exp(Op):
    __slots__ = ()
    name = "exp"

    def forward(self, a):
        out = np.exp(a)
        self.saved = out
        return out

    def backward(self, grad):
        return (grad * self.saved,)


class Log(Op):
    __slots__ = ()
    name = "log"

    def forward(self, a):
        self.saved = a
        return np.log(a)

    def backward(self, grad):
        return (grad / self.saved,)


class ReLU(Op):
    __slots__ = ()
    name = "relu"

    def forward(self, a):
        out = np.maximum(a, 0)
        self.saved = out
        return out

    def backward(self, grad):
        # the gradient at exactly 0 is 0, as in PyTorch
        return (self._times(grad, self.saved > 0),)


class Tanh(Op):
    __slots__ = ()
    name = "tanh"

    def forward(self, a):
        out = np.tanh(a)
        self.saved = out
        return out

    def backward(self, grad):
        out = self.saved
        return (self._times(grad, 1 - out * out),)


class Sigmoid(Op):
    __slots__ = ()
    name = "sigmoid"

    def forward(self, a):
        # 1 / (1 + exp(-a)) overflows for a << 0; exp(-log(1 + exp(-a))) never does and stays accurate there
        out = np.exp(-np.logaddexp(0, -a))
        self.saved = out
        return out

    def backward(self, grad):
        out = self.saved
        return (grad * out * (1 - out),)


class Cast(Op):
    __slots__ = ("dtype",)
    name = "cast"

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, a):
        return a.astype(self.dtype)

    def backward(self, grad):
        return (grad,)  # the engine casts the gradient back to the input's dtype

    def describe(self):
        return f"cast to {self.dtype}"
