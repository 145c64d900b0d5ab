"""Softmax and log-softmax along an axis, shifted by the maximum so that huge logits stay finite."""

from __future__ import annotations

from .base import Op
from .generic import exp, log_softmax, softmax
from .registry import register


@register("softmax")
class Softmax(Op):
    """exp(x) / sum(exp(x)) along `axis`; finite for logits like +-1000."""

    __slots__ = ("axis",)
    name = "softmax"

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, a):
        return softmax(a, self.axis)

    def backward(self, grad, a, out):
        return out * (grad - (grad * out).sum(axis=self.axis, keepdims=True))

    def describe(self):
        return f"softmax(axis={self.axis})"


@register("log_softmax")
class LogSoftmax(Op):
    """log(softmax(x)) along `axis`, through log-sum-exp (finite where softmax underflows)."""

    __slots__ = ("axis",)
    name = "log_softmax"

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, a):
        return log_softmax(a, self.axis)

    def backward(self, grad, a, out):
        return grad - exp(out) * grad.sum(axis=self.axis, keepdims=True)

    def describe(self):
        return f"log_softmax(axis={self.axis})"
