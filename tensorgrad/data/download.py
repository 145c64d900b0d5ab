"""Atomic, checksum-verified HTTP download (urllib only).

The file is streamed into a temporary file next to the destination, checked, then renamed into place
with `os.replace`, so the destination either holds a complete, verified file or is untouched: whatever
goes wrong (HTTP error, refused connection, timeout, short read, bad checksum, Ctrl-C), the temporary
file is removed.

Retry policy: only failures of the transport are retried (connection refused/reset, timeout, a body
shorter than its Content-Length, HTTP 408/429/5xx), with an exponential back-off. A 4xx answer or a
checksum mismatch is not: the server would answer the same way again, and re-fetching a large file that
is known to be wrong only wastes bandwidth.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO

from ..files import atomic_writer
from ..progress import progress_bar

__all__ = ["DownloadError", "download_file"]

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_SIZE = 1 << 16
_USER_AGENT = "tensorgrad-data (python urllib)"
_RETRYABLE_HTTP_STATUS = frozenset({408, 429})


class DownloadError(OSError):
    """A download failed; the message names the URL and the cause. Nothing was written at the destination."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class _TransientError(Exception):
    """A failure of the transport rather than of the content: worth another attempt."""


def download_file(
    url: str,
    dest_path: str | os.PathLike[str],
    sha256: str | None = None,
    *,
    decompress_for_check: bool = True,
    timeout: float = 30.0,
    retries: int = 2,
    retry_delay: float = 1.0,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest_path` atomically and return the destination path.

    `sha256` (hex) is checked against the downloaded content, or, when `decompress_for_check` is true and
    the content is gzip, against the decompressed content (so a recompressed copy of the same data
    verifies too). `timeout` applies to connecting and to each read. Transport failures are retried
    `retries` times, waiting `retry_delay`, then twice as long, and so on. A tqdm progress bar goes to
    stderr if `progress`. Raises `DownloadError` (an `OSError`) naming the URL and the cause.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    dest = Path(dest_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _download_once(url, dest, sha256, decompress_for_check, timeout, progress)
            return dest
        except _TransientError as error:
            if attempt == attempts:
                tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                raise DownloadError(f"{url}: {error} (gave up after {tries})", url) from error
            time.sleep(retry_delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _download_once(
    url: str, dest: Path, sha256: str | None, decompress_for_check: bool, timeout: float, progress: bool
) -> None:
    # atomic_writer: a temporary file beside `dest` that replaces it only if everything below succeeds
    with atomic_writer(dest) as file:
        _stream_to(url, file, timeout, progress, label=dest.name)
        if sha256 is not None:
            file.flush()
            _check_sha256(url, file.name, sha256, decompress_for_check)


def _stream_to(url: str, file: BinaryIO, timeout: float, progress: bool, label: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        status = f"HTTP {error.code} {error.reason}"
        if error.code >= 500 or error.code in _RETRYABLE_HTTP_STATUS:
            raise _TransientError(status) from error
        raise DownloadError(f"{url}: {status}", url) from error
    except (OSError, http.client.HTTPException) as error:  # URLError (refused, DNS, timeout) is an OSError
        raise _TransientError(f"connection failed: {getattr(error, 'reason', error)}") from error

    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.strip().isdigit() else None
        received = 0
        with progress_bar(
            total=expected,
            desc=label,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=not progress,
            leave=False,
        ) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as error:  # reset, timeout, IncompleteRead
                    of_expected = f", expected {expected}" if expected is not None else ""
                    raise _TransientError(
                        f"connection lost: received {received} bytes{of_expected} ({error!r})"
                    ) from error
                if not chunk:
                    break
                file.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # http.client reports a body cut short by the server closing the connection as a plain end of stream.
    if expected is not None and received != expected:
        raise _TransientError(
            f"incomplete download: received {received} bytes, expected {expected} (Content-Length)"
        )


def _check_sha256(url: str, path: str, expected: str, decompress_for_check: bool) -> None:
    with open(path, "rb") as file:
        is_gzip = file.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
    decompress = decompress_for_check and is_gzip
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") if decompress else open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DownloadError(
            f"{url}: the downloaded file is not a valid gzip stream ({error})", url
        ) from error
    actual = digest.hexdigest()
    if actual != expected.lower():
        of_what = "decompressed content" if decompress else "content"
        raise DownloadError(
            f"{url}: SHA-256 mismatch of the {of_what}: expected {expected.lower()}, got {actual}; "
            "the file was not saved",
            url,
        )
