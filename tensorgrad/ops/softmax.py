"""Softmax and log-softmax along an axis, shifted by the maximum so that huge logits stay finite."""

from __future__ import annotations

import numpy as np

from .base import Op


def log_sum_exp(a: np.ndarray, axis: int):
    """(log(sum(exp(a), axis, keepdims=True)), a - max(a, axis)): the stable pieces softmax ops share."""
    # ufunc reductions directly: the ndarray methods add a Python-level wrapper call to every op
    shifted = a - np.maximum.reduce(a, axis=axis, keepdims=True)
    return np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True)), shifted


class Softmax(Op):
    __slots__ = ("axis",)
    name = "softmax"

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, a):
        shifted = a - a.max(axis=self.axis, keepdims=True)
        out = np.exp(shifted)
        out /= out.sum(axis=self.axis, keepdims=True)
        self.saved = out
        return out

    def backward(self, grad):
        out = self.saved
        return (out * (grad - (grad * out).sum(axis=self.axis, keepdims=True)),)

    def describe(self):
        return f"softmax(axis={self.axis})"


class LogSoftmax(Op):
    __slots__ = ("axis",)
    name = "log_softmax"

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, a):
        lse, shifted = log_sum_exp(a, self.axis)
        out = shifted - lse
        self.saved = out
        return out

    def backward(self, grad):
        return (grad - np.exp(self.saved) * grad.sum(axis=self.axis, keepdims=True),)

    def describe(self):
        return f"log_softmax(axis={self.axis})"
