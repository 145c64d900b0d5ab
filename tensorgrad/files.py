"""Crash-safe file writing: a reader sees the old file or the complete new one, never half a file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# mkstemp creates files 0600; a run folder's files are meant to be readable like any other file.
_FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file next to `path` for binary writing; on success it replaces `path` atomically.

    The data is fsync'ed before `os.replace`, so after a crash the file holds the old or the new content. On any
    exception (Ctrl-C included) the temporary file is removed and `path` is left as it was. The file's
    `.name` is the temporary path, for checks that must read back what was written before it replaces `path`.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)  # reopened by name, so that file.name is the path
    try:
        with open(tmp_name, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp_name, _FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(path.parent)


def write_bytes_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` through `atomic_writer`."""
    with atomic_writer(path) as file:
        file.write(data)


def write_json_atomically(path: str | os.PathLike[str], value) -> None:
    """Write `value` as strict JSON (no NaN: store None), indented, through `atomic_writer`."""
    text = json.dumps(value, indent=2, allow_nan=False) + "\n"
    write_bytes_atomically(path, text.encode("utf-8"))


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX file systems; Windows cannot open a directory, so skip there.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
