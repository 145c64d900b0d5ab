"""Whether operations are recorded for backward: `no_grad`, `enable_grad`, `is_grad_enabled`."""

from __future__ import annotations

import contextlib


class _GradMode:
    # A plain class attribute, not thread-local state: it is read on every op, and this is the cheapest read.
    enabled = True


class WalkMode:
    """What the backward walk under way allows: set by the engine, read by `Op.grad_out`."""

    # False outside a walk, under create_graph (gradients are graphs) and in autograd.grad (no .grad touched)
    leaf_buffers = False


def is_grad_enabled() -> bool:
    """True when new operations are recorded into the graph."""
    return _GradMode.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager (and decorator) that turns recording on or off for its body."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.previous: list[bool] = []

    def __enter__(self):
        self.previous.append(_GradMode.enabled)
        _GradMode.enabled = self.mode

    def __exit__(self, *exc_info):
        _GradMode.enabled = self.previous.pop()
        return False


class no_grad(set_grad_enabled):
    """Record nothing inside: results have ``requires_grad=False`` and keep no graph.

    >>> with tg.no_grad():
    ...     y = model(x)          # evaluation: no graph, no saved arrays
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)
