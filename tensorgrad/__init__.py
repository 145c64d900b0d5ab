"""tensorgrad: a small, fast, readable reverse-mode autodiff engine on NumPy."""

# autograd first: the ops register themselves through its engine
from . import autograd, ops  # noqa: I001
from . import data, func, functional, nn, optim, random, viz
from .factories import ones, randn, tensor, zeros
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops.registry import FUNCTIONS as _FUNCTIONS
from .random import manual_seed
from .tensor import Tensor

globals().update(_FUNCTIONS)  # tg.exp, tg.matmul, tg.where, ... : every registered op

__version__ = "0.1.0"

__all__ = sorted(
    [
        *_FUNCTIONS,
        "GradcheckError",
        "Tensor",
        "autograd",
        "data",
        "enable_grad",
        "func",
        "functional",
        "gradcheck",
        "gradgradcheck",
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
)
