"""Constant padding, as `torch.nn.functional.pad`: negative pads crop."""

from __future__ import annotations

import numpy as np

from ..autograd.engine import apply
from .base import Op
from .generic import index_add
from .registry import as_input, register


@register("pad", method=False)
class Pad(Op):
    """`x` with `value` added around its last axes: `pad` = (left, right) of the last axis, then (top, bottom)
    of the one before, and so on, as `torch.nn.functional.pad`; a negative amount crops instead."""

    __slots__ = ("source", "target", "value", "widths")
    name = "pad"

    def __init__(self, widths, value):
        self.widths = widths  # (before, after) per axis, first axis first
        self.value = value

    @classmethod
    def call(cls, x, pad, mode: str = "constant", value=None):
        x = as_input(x, "pad")
        if mode != "constant":
            raise ValueError(f"pad(): only mode='constant' is supported, not {mode!r}")
        pad = tuple(int(p) for p in pad)
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise ValueError(
                f"pad(): pad {pad} must have an even length of at most 2 * {x.ndim} for a tensor of shape {x.shape}"
            )
        pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)][::-1]  # the last axis is given first
        widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs
        for axis, ((before, after), size) in enumerate(zip(widths, x.shape)):
            if size + before + after < 0:
                raise ValueError(
                    f"pad(): pads {(before, after)} leave axis {axis} of size {size} with a negative size"
                )
        return apply(cls(tuple(widths), 0 if value is None else value), x)

    def forward(self, a):
        source, target, shape = [], [], []
        for (before, after), size in zip(self.widths, a.shape):
            # a positive pad moves the data inward in the output; a negative one drops input from the edge
            source.append(slice(max(-before, 0), size - max(-after, 0)))
            target.append(
                slice(max(before, 0), max(before, 0) + max(size - max(-before, 0) - max(-after, 0), 0))
            )
            shape.append(size + before + after)
        self.source, self.target = tuple(source), tuple(target)
        out = np.full(shape, self.value, dtype=a.dtype)
        out[self.target] = a[self.source]
        return out

    def backward(self, grad, a, out):
        return index_add(grad[self.target], self.source, a.shape)

    def describe(self):
        return f"pad{self.widths}"
