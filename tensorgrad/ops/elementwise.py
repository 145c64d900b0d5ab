"""Element-wise operations. Broadcasting is undone by the engine, so each states only its local derivative."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from .base import Op
from .generic import log, where
from .registry import as_input, pair, register


@register("add", operators=("__add__", "__radd__"))
class Add(Op):
    """a + b element-wise (NumPy broadcasting)."""

    __slots__ = ()
    name = "add"
    arity = 2

    def forward(self, a, b):
        return a + b

    def backward(self, grad, a, b, out):
        return grad, grad


@register("sub", operators=("__sub__", "__rsub__"))
class Sub(Op):
    """a - b element-wise."""

    __slots__ = ()
    name = "sub"
    arity = 2

    def forward(self, a, b):
        return a - b

    def backward(self, grad, a, b, out):
        return grad, (-grad if self.needs_grad[1] else None)


@register("mul", operators=("__mul__", "__rmul__"))
class Mul(Op):
    """a * b element-wise."""

    __slots__ = ()
    name = "mul"
    arity = 2

    def forward(self, a, b):
        return a * b

    def backward(self, grad, a, b, out):
        need_a, need_b = self.needs_grad
        if need_a != need_b:  # one gradient (e.g. a dropout mask's input): it may reuse the incoming array
            return (self.times(grad, b), None) if need_a else (None, self.times(grad, a))
        return grad * b, grad * a


@register("div", operators=("__truediv__", "__rtruediv__"))
class Div(Op):
    """a / b element-wise."""

    __slots__ = ()
    name = "div"
    arity = 2

    def forward(self, a, b):
        return a / b

    def backward(self, grad, a, b, out):
        grad_a = grad / b
        # d(a/b)/db = -a/b**2 = -(a/b)/b, reusing the forward's quotient
        grad_b = -grad_a * out if self.needs_grad[1] else None
        return grad_a if self.needs_grad[0] else None, grad_b


@register("pow", operators=("__pow__", "__rpow__"))
class Pow(Op):
    """a ** b element-wise: tensor ** scalar, scalar ** tensor and tensor ** tensor."""

    __slots__ = ()
    name = "pow"
    arity = 2

    def forward(self, a, b):
        if b.ndim == 0 and a.dtype.kind == "f" and b.dtype == a.dtype:
            # A Python number lets NumPy take its fast paths (x ** 0.5 as sqrt, x ** 2 as a square: 4x
            # faster than power's), which a 0-d array skips; the result's dtype is a's either way.
            return a ** b.item()
        return a**b

    def backward(self, grad, a, b, out):
        need_a, need_b = self.needs_grad
        # where b == 0 the derivative is 0 even at a == 0 (as in PyTorch), not 0 * 0**-1 = nan
        grad_a = grad * b * a ** where(b == 0, 1, b - 1) if need_a else None
        # d(a**b)/db = a**b * log(a); defined only for a > 0 (a = 0 contributes nothing, as in PyTorch)
        grad_b = grad * out * log(where(a > 0, a, 1)) if need_b else None
        return grad_a, grad_b


@register("neg", operators=("__neg__",))
class Neg(Op):
    """-x element-wise."""

    __slots__ = ()
    name = "neg"

    def forward(self, a):
        return -a

    def backward(self, grad, a, out):
        return -grad


@register("exp")
class Exp(Op):
    """e**x element-wise."""

    __slots__ = ()
    name = "exp"

    def forward(self, a):
        return np.exp(a)

    def backward(self, grad, a, out):
        return grad * out


@register("log")
class Log(Op):
    """Natural logarithm element-wise."""

    __slots__ = ()
    name = "log"

    def forward(self, a):
        return np.log(a)

    def backward(self, grad, a, out):
        return grad / a


@register("relu")
class ReLU(Op):
    """max(x, 0) element-wise; its gradient at exactly 0 is 0, as in PyTorch."""

    __slots__ = ()
    name = "relu"

    def forward(self, a):
        return np.maximum(a, 0)

    def backward(self, grad, a, out):
        return self.times(grad, out > 0)


@register("tanh")
class Tanh(Op):
    """Hyperbolic tangent element-wise."""

    __slots__ = ()
    name = "tanh"

    def forward(self, a):
        return np.tanh(a)

    def backward(self, grad, a, out):
        return self.times(grad, 1 - out * out)


@register("sigmoid")
class Sigmoid(Op):
    """1 / (1 + exp(-x)) element-wise, computed without overflow."""

    __slots__ = ()
    name = "sigmoid"

    def forward(self, a):
        # 1 / (1 + exp(-a)) overflows for a << 0; exp(-log(1 + exp(-a))) never does and stays accurate there
        return np.exp(-np.logaddexp(0, -a))

    def backward(self, grad, a, out):
        return self.times(grad, out * (1 - out))


@register("where", method=False)
class Where(Op):
    """`input` where `condition` holds, else `other` (as `torch.where`); the condition gets no gradient."""

    __slots__ = ("condition",)
    name = "where"
    arity = 2

    def __init__(self, condition):
        self.condition = condition

    @classmethod
    def call(cls, condition, input, other):
        condition = np.asarray(condition.data if hasattr(condition, "data") else condition)
        if condition.dtype != np.bool_:
            raise TypeError(f"where(): the condition must be boolean, not {condition.dtype}")
        return apply(cls(condition), *pair(input, other, "where"))

    def forward(self, a, b):
        return np.where(self.condition, a, b)

    def backward(self, grad, a, b, out):
        need_a, need_b = self.needs_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (
            where(self.condition, grad, zero) if need_a else None,
            where(self.condition, zero, grad) if need_b else None,
        )


@register("to")
class Cast(Op):
    """This tensor in another dtype; the gradient flows back in the original dtype."""

    __slots__ = ("dtype",)
    name = "cast"

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    @classmethod
    def call(cls, x, dtype):
        x = as_input(x, "to")
        dtype = np.dtype(dtype)
        if dtype == x.dtype:
            return x
        if x.requires_grad and dtype.kind not in "fc":
            x = x.detach()  # an integer result has no gradient
        return apply(cls(dtype), x)

    def forward(self, a):
        return a.astype(self.dtype)

    def backward(self, grad, a, out):
        return grad  # the engine casts the gradient back to the input's dtype

    def describe(self):
        return f"cast to {self.dtype}"
