"""tensorgrad: a small, fast, readable reverse-mode autodiff engine on NumPy.

`import tensorgrad` needs NumPy alone. `data`, `models`, `onnx` and `training` are imported on first use
(`tg.data`, or `import tensorgrad.data`), so that a program that needs only the engine does not pay for the
HTTP client of the downloader or for the ONNX exporter; optional libraries (tqdm, matplotlib, Pillow,
graphviz, onnx) are imported only where they are used (see `tensorgrad.optional`).
"""

import importlib

# autograd first: the ops register themselves through its engine
from . import autograd, func, functional, nn, ops, optim, random, viz
from .factories import ones, randn, tensor, zeros
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops.registry import FUNCTIONS as _FUNCTIONS
from .parallel import get_num_threads, set_num_threads
from .random import manual_seed
from .tensor import Tensor

globals().update(_FUNCTIONS)  # tg.exp, tg.matmul, tg.where, ... : every registered op

__version__ = "0.1.0"

#: submodules imported on first use, as attributes of the package
_LAZY_SUBMODULES = ("data", "models", "onnx", "training")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")  # also sets it as an attribute of the package
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__all__ = [
    "GradcheckError",
    "Tensor",
    "autograd",
    "data",
    "enable_grad",
    "func",
    "functional",
    "get_num_threads",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "manual_seed",
    "models",
    "nn",
    "no_grad",
    "ones",
    "onnx",
    "ops",
    "optim",
    "randn",
    "random",
    "set_grad_enabled",
    "set_num_threads",
    "tensor",
    "training",
    "viz",
    "zeros",
]
__all__ += sorted(_FUNCTIONS)  # every registered op, as tg.<name>
