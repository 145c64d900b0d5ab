"""Differentiation: `backward`, `grad` and custom `Function`s, with PyTorch's names and semantics."""

from .api import backward, grad
from .engine import apply, run_backward
from .function import Function, FunctionCtx

__all__ = ["Function", "FunctionCtx", "apply", "backward", "grad", "run_backward"]
