"""Reader for the IDX format used by MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number (two zero bytes, a data type code, the number of dimensions), one
big-endian uint32 per dimension, then the data in C order, big-endian. Files are often gzip-compressed;
that is detected from the content (magic bytes 1f 8b), not the name.
"""

from __future__ import annotations

import gzip
import os
import zlib
from math import prod

import numpy as np

__all__ = ["IDX_DTYPES", "MAX_IDX_BYTES", "IDXError", "parse_idx", "read_decompressed", "read_idx"]

GZIP_MAGIC = b"\x1f\x8b"

# Data type code -> (name used in the IDX documentation, big-endian dtype as stored in the file).
IDX_DTYPES: dict[int, tuple[str, np.dtype]] = {
    0x08: ("ubyte", np.dtype(">u1")),
    0x09: ("byte", np.dtype(">i1")),
    0x0B: ("short", np.dtype(">i2")),
    0x0C: ("int", np.dtype(">i4")),
    0x0D: ("float", np.dtype(">f4")),
    0x0E: ("double", np.dtype(">f8")),
}

_MAGIC_SIZE = 4
_DIM_SIZE = 4
_CHUNK_SIZE = 1 << 20

#: the most a file's header may declare (header and data); Fashion-MNIST's largest file is 47 MB
MAX_IDX_BYTES = 1 << 30
#: trailing bytes beyond the declared data that are read to report their number exactly
MAX_TRAILING_BYTES = 1 << 20


class IDXError(ValueError):
    """An IDX file (or its gzip wrapper) is malformed; the message names the file and the problem."""


def read_idx(path: str | os.PathLike[str], max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed, into a native-endian array of the shape it declares.

    Raises `IDXError` for a malformed file (byte offsets in the message count in the decompressed
    content), or one whose header declares more than `max_bytes` bytes, and the usual `OSError`s if the
    file cannot be read.
    """
    return parse_idx(read_decompressed(path, max_bytes), source=os.fspath(path))


def read_decompressed(path: str | os.PathLike[str], max_bytes: int = MAX_IDX_BYTES) -> bytes:
    """Return an IDX file's content, gunzipped if it starts with the gzip magic bytes.

    Only as much is read (and decompressed) as the file's own header declares, plus up to
    `MAX_TRAILING_BYTES` to report trailing bytes exactly: a small file cannot make this allocate more
    than its header states, and a header that states more than `max_bytes` is an `IDXError`, as are a
    malformed header, a corrupt or truncated gzip stream, and more trailing bytes than that.
    """
    source = os.fspath(path)
    with open(path, "rb") as raw:
        is_gzip = raw.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw
        try:
            head = _read_at_most(stream, _MAGIC_SIZE)
            if len(head) == _MAGIC_SIZE and head[:2] == b"\0\0":
                head += _read_at_most(stream, _DIM_SIZE * head[3])
            header_size, shape, stored_dtype = _parse_header(head, source)
            expected = prod(shape) * stored_dtype.itemsize
            if header_size + expected > max_bytes:
                raise IDXError(
                    f"{source}: the header declares shape {shape} of {IDX_DTYPES[head[2]][0]}, "
                    f"{header_size + expected} bytes, more than the limit of {max_bytes} bytes"
                )
            data = head + _read_at_most(stream, expected + MAX_TRAILING_BYTES + 1)
        except EOFError as error:
            raise IDXError(f"{source}: truncated gzip stream ({error})") from error
        except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            if not is_gzip:
                raise
            raise IDXError(f"{source}: corrupt gzip stream ({error})") from error
    extra = len(data) - header_size - expected
    if extra > MAX_TRAILING_BYTES:
        raise IDXError(
            f"{source}: trailing bytes: expected {expected} data bytes after the {header_size}-byte header "
            f"for shape {shape}, got more than {MAX_TRAILING_BYTES} extra from byte offset {header_size + expected}"
        )
    return data


def _read_at_most(stream, size: int) -> bytes:
    """Up to `size` bytes of `stream`, read in chunks: memory follows what the file holds, not `size`."""
    chunks, remaining = [], size
    while remaining > 0:
        chunk = stream.read(min(remaining, _CHUNK_SIZE))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file; `source` names it in error messages.

    Returns a new, writable, native-endian array (multi-byte IDX values are big-endian on disk).
    """
    header_size, shape, stored_dtype = _parse_header(data, source)
    type_name = IDX_DTYPES[data[2]][0]
    # Python ints, so a hostile header cannot overflow the size computation.
    expected = prod(shape) * stored_dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "trailing bytes"
        where = (
            ""
            if actual < expected
            else f" ({actual - expected} extra from byte offset {header_size + expected})"
        )
        raise IDXError(
            f"{source}: {problem}: expected {expected} data bytes after the {header_size}-byte header "
            f"for shape {shape} of {type_name}, got {actual}{where}"
        )

    stored = np.frombuffer(data, dtype=stored_dtype, count=prod(shape), offset=header_size).reshape(shape)
    # astype copies, which also makes the result writable and independent of `data`.
    return stored.astype(stored_dtype.newbyteorder("="))


def _parse_header(data: bytes, source: str) -> tuple[int, tuple[int, ...], np.dtype]:
    """The header size, shape and stored dtype that the first bytes of an IDX file declare."""
    if len(data) < _MAGIC_SIZE:
        raise IDXError(
            f"{source}: truncated header: expected at least {_MAGIC_SIZE} bytes (the magic number), "
            f"got {len(data)}"
        )
    zero_a, zero_b, type_code, ndim = data[:_MAGIC_SIZE]
    if zero_a != 0 or zero_b != 0:
        magic = int.from_bytes(data[:_MAGIC_SIZE], "big")
        raise IDXError(
            f"{source}: bad magic number 0x{magic:08x} at byte offset 0: "
            "an IDX file starts with two zero bytes (is this an IDX file?)"
        )
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X} {name}" for code, (name, _) in IDX_DTYPES.items())
        raise IDXError(
            f"{source}: unknown data type code 0x{type_code:02X} at byte offset 2 (known: {known})"
        )
    if ndim == 0:
        raise IDXError(f"{source}: number of dimensions is 0 at byte offset 3 (must be at least 1)")

    header_size = _MAGIC_SIZE + _DIM_SIZE * ndim
    if len(data) < header_size:
        raise IDXError(
            f"{source}: truncated header: {ndim} dimensions need a {header_size}-byte header, got {len(data)} bytes"
        )
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=_MAGIC_SIZE))
    return header_size, shape, IDX_DTYPES[type_code][1]
