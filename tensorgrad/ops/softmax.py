"""Softmax and log-softmax along an axis, shifted by the maximum so that huge logits stay finite."""

from __future__ import annotations

from ..autograd.engine import apply
from .base import Op
from .generic import exp, log_softmax, softmax
from .registry import as_input, either_spelling, register


class _AlongAxis(Op):
    __slots__ = ("axis",)

    def __init__(self, axis=-1):
        self.axis = axis

    @classmethod
    def call(cls, x, dim=None, *, axis=None):
        """`softmax(x, dim)` as PyTorch's (`dim=`), or NumPy's `axis=`; the last axis if neither is given."""
        chosen = either_spelling(cls.name, "dim", dim, "axis", axis)
        return apply(cls(-1 if chosen is None else chosen), as_input(x, cls.name))


@register("softmax")
class Softmax(_AlongAxis):
    """exp(x) / sum(exp(x)) along `axis`; finite for logits like +-1000."""

    __slots__ = ()
    name = "softmax"

    def forward(self, a):
        return softmax(a, self.axis)

    def backward(self, grad, a, out):
        return out * (grad - (grad * out).sum(axis=self.axis, keepdims=True))

    def describe(self):
        return f"softmax(axis={self.axis})"


@register("log_softmax")
class LogSoftmax(_AlongAxis):
    """log(softmax(x)) along `axis`, through log-sum-exp (finite where softmax underflows)."""

    __slots__ = ()
    name = "log_softmax"

    def forward(self, a):
        return log_softmax(a, self.axis)

    def backward(self, grad, a, out):
        return grad - exp(out) * grad.sum(axis=self.axis, keepdims=True)

    def describe(self):
        return f"log_softmax(axis={self.axis})"
