"""Optional libraries: `import tensorgrad` needs NumPy alone; the others are imported where they are used.

- tqdm: progress bars (without it, a plain text line stands in): `pip install tensorgrad[train]`
- matplotlib: a training run's `curves.png` and `confusion.png`: `pip install tensorgrad[train]`
- Pillow: reading image files (`tensorgrad predict`): `pip install tensorgrad[train]`
- threadpoolctl: holding NumPy's BLAS to one thread while tensorgrad's kernels run on several
  (`tensorgrad.parallel.set_num_threads`): `pip install tensorgrad[train]`
- graphviz: `tensorgrad.viz.draw_graph`, a run's `graph.svg`: `pip install tensorgrad[viz]` (also in `train`)
- onnx: `tensorgrad.onnx.export` (`tensorgrad export`): `pip install tensorgrad[onnx]`
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

#: the extra that installs each optional library (by import name)
EXTRAS = {
    "tqdm": "train",
    "matplotlib": "train",
    "PIL": "train",
    "threadpoolctl": "train",
    "graphviz": "viz",
    "onnx": "onnx",
}
#: the name to install each one by, where it differs from the import name
PACKAGE_NAMES = {"PIL": "Pillow"}


class MissingDependencyError(ImportError):
    """An optional library is not installed; the message says what needs it and what to install."""


def install_hint(module: str) -> str:
    """`pip install tensorgrad[<extra>]` for the extra that brings `module`."""
    return f"pip install tensorgrad[{EXTRAS[module]}]"


def is_available(module: str) -> bool:
    """True if `module` can be imported (without importing it; a module set to None counts as missing)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def require(module: str, purpose: str):
    """Import and return `module`, or raise `MissingDependencyError` naming `purpose` and the extra to install.

    >>> graphviz = require("graphviz", "drawing a graph")
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name not in (module, None) and not module.startswith(f"{error.name}."):
            raise  # the library is there but broken: its own error says more
        package = PACKAGE_NAMES.get(module, module)
        raise MissingDependencyError(
            f"{purpose} needs {package}, which is not installed: {install_hint(module)}"
        ) from None
