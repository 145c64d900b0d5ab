"""tensorgrad: a small, fast, readable reverse-mode autodiff engine on NumPy."""

from . import data, functional, nn, ops, optim, random, viz
from .factories import ones, randn, zeros
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .tensor import Tensor, tensor

__version__ = "0.1.0"

__all__ = [
    "GradcheckError",
    "Tensor",
    "data",
    "enable_grad",
    "functional",
    "gradcheck",
    "is_grad_enabled",
    "manual_seed",
    "nn",
    "no_grad",
    "ones",
    "ops",
    "optim",
    "randn",
    "random",
    "set_grad_enabled",
    "tensor",
    "viz",
    "zeros",
]
