"""Differentiation: `backward`, `grad` and custom `Function`s, with PyTorch's names and semantics."""

from .engine import apply, run_backward
from .function import Function, FunctionCtx
from .api import backward, grad

__all__ = ["Function", "FunctionCtx", "apply", "backward", "grad", "run_backward"]
