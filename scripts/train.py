"""Train the Fashion-MNIST MLP: the same as `tensorgrad-train` (see `.venv/bin/python scripts/train.py --help`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# A checkout that was not installed: the package sits next to scripts/.
if importlib.util.find_spec("tensorgrad") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
try:
    from tensorgrad.cli.train import main
except ModuleNotFoundError as missing:  # the system Python, say, rather than the project's .venv
    sys.exit(
        f"{Path(__file__).name}: {missing.name} is not installed for {sys.executable}; run it with the "
        f"project's Python: .venv/bin/python scripts/{Path(__file__).name} " + " ".join(sys.argv[1:])
    )

if __name__ == "__main__":
    sys.exit(main())
