"""Crash-safe file writing (a reader sees the old file or the complete new one, never half a file), and a
lock that keeps two processes out of one folder."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# mkstemp creates files 0600; a run folder's files are meant to be readable like any other file.
_FILE_MODE = 0o644
_TMP_SUFFIX = ".tmp"
#: the lock file `folder_lock` keeps in a folder while it holds it
LOCK_FILE = ".lock"


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file next to `path` for binary writing; on success it replaces `path` atomically.

    The data is fsync'ed before `os.replace`, so after a crash the file holds the old or the new content. On any
    exception (Ctrl-C included) the temporary file is removed and `path` is left as it was. The file's
    `.name` is the temporary path, for checks that must read back what was written before it replaces `path`.
    An `OSError` that names no file (a full disk, say) is given `path` as its `filename`, so that the message
    says which file could not be written.
    """
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=temporary_prefix(path.name), suffix=_TMP_SUFFIX, dir=path.parent
        )
    except OSError as error:
        _name_the_file(error, path)
        raise
    os.close(fd)  # reopened by name, so that file.name is the path
    try:
        with open(tmp_name, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp_name, _FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(error, OSError):
            _name_the_file(error, path)
        raise
    _fsync_directory(path.parent)


def temporary_prefix(name: str) -> str:
    """How the temporary files of `atomic_writer` for a file called `name` begin (they end in ".tmp")."""
    return f".{name}."


def remove_stale_temporaries(directory: str | os.PathLike[str], names) -> list[Path]:
    """Delete the temporary files `atomic_writer` left in `directory` for files called `names` (a process
    killed mid-write leaves one behind); returns them. Only call this while no one else writes there."""
    removed = []
    for name in names:
        for path in Path(directory).glob(f"{glob.escape(temporary_prefix(name))}*{_TMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def describe_os_error(error: OSError) -> str:
    """An `OSError` as "<file>: <reason>" (or just the reason), without the errno noise."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


class FolderLockedError(RuntimeError):
    """Another living process holds the lock of a folder; `owner` is its process id (None if unknown)."""

    def __init__(self, directory: Path, owner: int | None):
        by = f"process {owner}" if owner is not None else "another process"
        super().__init__(f"{directory} is in use by {by}")
        self.directory, self.owner = directory, owner


@contextlib.contextmanager
def folder_lock(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on `directory` for the block: a second process gets `FolderLockedError`.

    The lock is `flock` on the file `LOCK_FILE` in the folder, which holds the owner's process id. The kernel
    releases it when its process dies, however it dies, so a lock file left by a killed process is stale and
    simply taken over. The file is removed when the block ends. (Where `flock` does not exist, no lock is
    taken.)
    """
    path = Path(directory) / LOCK_FILE
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system
        yield path
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise FolderLockedError(Path(directory), int(owner) if owner.isdigit() else None) from None
        except BaseException:
            os.close(fd)
            raise
        # The previous holder removes the file as it lets go: if it did so between our open and our flock,
        # we hold a lock on a file no one else will see; start again with the file that is there now.
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _name_the_file(error: OSError, path: Path) -> None:
    if error.filename is None and error.errno is not None:
        error.filename = str(path)


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
