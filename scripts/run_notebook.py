"""Execute a notebook top to bottom in a Jupyter kernel of this Python, and save the executed copy.

    .venv/bin/python scripts/run_notebook.py examples/tour.ipynb examples/tour.executed.ipynb

The kernel runs this interpreter (`sys.executable`, so the virtual environment's tensorgrad), whatever
kernels the user has installed: its kernelspec is written into a temporary directory, the only one looked in.
A cell that raises stops the run with the cell's traceback (exit code 1).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

KERNEL_NAME = "tensorgrad-python"
ANSI_COLOR = re.compile(r"\x1b\[[0-9;]*m")


def execute_notebook(path: str | Path, timeout: int = 900) -> nbformat.NotebookNode:
    """The notebook at `path`, executed in its own folder; `timeout` is per cell, in seconds."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as kernels_dir:
        write_kernel_spec(Path(kernels_dir) / KERNEL_NAME)
        # Only this directory: a "python3" kernel of the user's (another Python, without tensorgrad) never runs.
        specs = KernelSpecManager(kernel_dirs=[kernels_dir], ensure_native_kernel=False)
        # Unix sockets in the temporary directory, not TCP ports: nothing listens on the network.
        manager = KernelManager(
            kernel_name=KERNEL_NAME,
            kernel_spec_manager=specs,
            transport="ipc",
            ip=str(Path(kernels_dir) / "kernel"),
        )
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=timeout,
            resources={"metadata": {"path": str(path.parent)}},
            shutdown_kernel="immediate",  # nothing to save: a graceful shutdown could outlive this process
        )
        client.execute()
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out", type=Path, nargs="?", help="default: NAME.executed.ipynb beside the notebook")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default: 900)")
    args = parser.parse_args(argv)
    out = args.out or args.notebook.with_suffix(".executed.ipynb")
    start = time.perf_counter()
    try:
        notebook = execute_notebook(args.notebook, args.timeout)
    except CellExecutionError as error:
        message = (
            str(error) if sys.stderr.isatty() else ANSI_COLOR.sub("", str(error))
        )  # the traceback's colours
        print(f"{args.notebook}: a cell failed\n{message}", file=sys.stderr)
        return 1
    nbformat.write(notebook, out)
    print(f"{args.notebook} executed in {time.perf_counter() - start:.1f} s: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
