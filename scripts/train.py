"""Train the Fashion-MNIST MLP: the same as `tensorgrad-train` (see `python scripts/train.py --help`)."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import tensorgrad  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits next to scripts/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tensorgrad.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
