from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tensorgrad.data import IDXError, parse_idx, read_idx
from tensorgrad.data.idx import read_decompressed

from .conftest import IDX_TYPE_CODES, encode_idx

# Values chosen so a byte-order mistake cannot go unnoticed.
SAMPLES = {
    np.uint8: np.array([[0, 1, 127], [128, 254, 255]], dtype=np.uint8),
    np.int8: np.array([-128, -1, 0, 1, 127], dtype=np.int8),
    np.int16: np.array([[-32768, -2], [258, 32767]], dtype=np.int16),
    np.int32: np.arange(-12, 12, dtype=np.int32).reshape(2, 3, 4) * 16_777_259,
    np.float32: np.array([-1.5, 0.0, 3.25e-7, np.inf, 1e30], dtype=np.float32),
    np.float64: np.array([[np.pi, -np.e], [1e-300, 2.0**60]], dtype=np.float64),
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", list(SAMPLES), ids=lambda d: np.dtype(d).name)
def test_round_trip(tmp_path, dtype, gz):
    expected = SAMPLES[dtype]
    data = encode_idx(expected)
    path = tmp_path / ("sample.idx.gz" if gz else "sample.idx")
    path.write_bytes(gzip.compress(data) if gz else data)

    result = read_idx(path)

    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)
    assert result.flags.writeable and result.flags.c_contiguous


def test_gzip_is_detected_by_content_not_name(tmp_path):
    expected = SAMPLES[np.int16]
    compressed_without_suffix = tmp_path / "compressed-idx1-short"
    compressed_without_suffix.write_bytes(gzip.compress(encode_idx(expected)))
    raw_with_gz_suffix = tmp_path / "raw.gz"
    raw_with_gz_suffix.write_bytes(encode_idx(expected))

    np.testing.assert_array_equal(read_idx(compressed_without_suffix), expected)
    np.testing.assert_array_equal(read_idx(raw_with_gz_suffix), expected)
    assert read_decompressed(compressed_without_suffix) == encode_idx(expected)


def test_accepts_str_path_and_empty_dimension(tmp_path):
    path = tmp_path / "empty.idx"
    path.write_bytes(encode_idx(np.zeros((0, 28, 28), dtype=np.uint8)))
    assert read_idx(str(path)).shape == (0, 28, 28)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(list(IDX_TYPE_CODES)),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    )
)
def test_parse_round_trip_property(array):
    result = parse_idx(encode_idx(array))
    assert result.dtype == array.dtype and result.shape == array.shape
    np.testing.assert_array_equal(result, array)


# ---- errors: each names the file and the problem ----


def write(tmp_path, data: bytes, name: str = "broken-idx3-ubyte") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def read_error(path: str) -> str:
    with pytest.raises(IDXError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_errors_are_value_errors():
    assert issubclass(IDXError, ValueError)


def test_bad_magic(tmp_path):
    path = write(tmp_path, b"\x00\x01\x08\x01" + struct.pack(">I", 1) + b"\x00")
    message = read_error(path)
    assert "bad magic number 0x00010801 at byte offset 0" in message


def test_not_an_idx_file_at_all(tmp_path):
    message = read_error(write(tmp_path, b"<html>not found</html>"))
    assert "bad magic number" in message


def test_unknown_dtype_code(tmp_path):
    path = write(tmp_path, b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00")
    message = read_error(path)
    assert "unknown data type code 0x0A at byte offset 2" in message
    assert "0x08 ubyte" in message  # says what would have been valid


def test_zero_dimensions(tmp_path):
    message = read_error(write(tmp_path, b"\x00\x00\x08\x00"))
    assert "number of dimensions is 0 at byte offset 3" in message


@pytest.mark.parametrize("size", [0, 3])
def test_truncated_magic(tmp_path, size):
    message = read_error(write(tmp_path, b"\x00\x00\x08"[:size]))
    assert f"truncated header: expected at least 4 bytes (the magic number), got {size}" in message


def test_truncated_dimensions(tmp_path):
    # Three dimensions need a 16-byte header; only two and a half sizes are present.
    path = write(tmp_path, b"\x00\x00\x08\x03" + struct.pack(">II", 10, 28) + b"\x00\x00")
    message = read_error(path)
    assert "truncated header: 3 dimensions need a 16-byte header, got 14 bytes" in message


def test_truncated_data(tmp_path):
    data = encode_idx(np.zeros((10, 10, 10), dtype=np.uint8))[:-10]
    message = read_error(write(tmp_path, data))
    assert (
        "truncated: expected 1000 data bytes after the 16-byte header for shape (10, 10, 10) of ubyte, got 990"
        in (message)
    )


def test_truncated_data_counts_itemsize(tmp_path):
    data = encode_idx(np.zeros(5, dtype=np.float64))[:-1]
    message = read_error(write(tmp_path, data))
    assert "truncated: expected 40 data bytes after the 8-byte header" in message
    assert "got 39" in message


def test_trailing_bytes(tmp_path):
    data = encode_idx(np.zeros((2, 3), dtype=np.int16)) + b"junk"
    message = read_error(write(tmp_path, data))
    assert "trailing bytes: expected 12 data bytes after the 12-byte header" in message
    assert "got 16 (4 extra from byte offset 24)" in message


def test_gzip_wrapped_errors_are_reported_too(tmp_path):
    data = encode_idx(np.zeros((3, 4), dtype=np.uint8))[:-2]
    message = read_error(write(tmp_path, gzip.compress(data), name="t10k-labels-idx1-ubyte.gz"))
    assert "truncated: expected 12 data bytes" in message


def test_corrupt_gzip_checksum(tmp_path):
    compressed = bytearray(gzip.compress(encode_idx(SAMPLES[np.int32])))
    compressed[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    message = read_error(write(tmp_path, bytes(compressed), name="train-images-idx3-ubyte.gz"))
    assert "corrupt gzip stream" in message


def test_corrupt_gzip_body(tmp_path):
    message = read_error(write(tmp_path, b"\x1f\x8b" + b"this is not deflate data" * 4, name="x.gz"))
    assert "corrupt gzip stream" in message


def test_truncated_gzip(tmp_path):
    compressed = gzip.compress(encode_idx(np.arange(1000, dtype=np.int32)))
    message = read_error(
        write(tmp_path, compressed[: len(compressed) // 2], name="train-labels-idx1-ubyte.gz")
    )
    assert "truncated gzip stream" in message


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent")
