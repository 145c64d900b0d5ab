"""Images for `tensorgrad-predict`: scaled by their real range, transparency onto the model's background, and a
file-naming error for anything unreadable."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from PIL import Image

from tensorgrad.cli import predict as predict_cli
from tensorgrad.training import ImageError, load_image, read_image


def ramp(high: int, dtype) -> np.ndarray:
    """A 28x28 ramp from 0 to `high`, in `dtype`."""
    return np.round(np.linspace(0, high, 28 * 28)).reshape(28, 28).astype(dtype)


def test_a_16_bit_png_is_scaled_by_65535_not_clipped(tmp_path):
    Image.fromarray(ramp(65535, np.uint16)).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode.startswith("I")  # Pillow reads it as 16-bit
    np.testing.assert_array_equal(load_image(tmp_path / "deep.png"), ramp(255, np.uint8))


def test_a_float_tiff_in_0_1_is_scaled_to_0_255(tmp_path):
    Image.fromarray(np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28)).save(tmp_path / "f.tiff")
    loaded = read_image(tmp_path / "f.tiff")
    np.testing.assert_array_equal(loaded.pixels, ramp(255, np.uint8))
    assert loaded.notes == []


def test_a_float_image_beyond_0_1_is_scaled_by_its_range_with_a_note(tmp_path):
    Image.fromarray(np.linspace(-2, 6, 784, dtype=np.float32).reshape(28, 28)).save(tmp_path / "f.tiff")
    loaded = read_image(tmp_path / "f.tiff")
    np.testing.assert_array_equal(loaded.pixels, ramp(255, np.uint8))
    assert loaded.notes == [
        f"{tmp_path / 'f.tiff'}: a floating-point image with values -2..6, beyond 0..1: scaled by its own range"
    ]


def dark_item_on_transparent() -> np.ndarray:
    rgba = np.zeros((28, 28, 4), np.uint8)  # transparent everywhere ...
    rgba[6:22, 8:20] = (30, 30, 30, 255)  # ... but for a dark, opaque item
    return rgba


def test_transparency_becomes_the_black_background_after_invert(tmp_path):
    Image.fromarray(dark_item_on_transparent(), "RGBA").save(tmp_path / "item.png")
    inverted = read_image(tmp_path / "item.png", invert=True)
    assert inverted.pixels[0, 0] == 0 and inverted.pixels[14, 14] == 225  # light item on black
    assert inverted.notes == []


def test_a_dark_item_on_a_transparent_background_gets_a_note(tmp_path, capsys, finished_run):
    Image.fromarray(dark_item_on_transparent(), "RGBA").save(tmp_path / "item.png")
    assert predict_cli.main([str(finished_run), str(tmp_path / "item.png")]) == 0
    err = capsys.readouterr().err
    assert "shows a dark item on a transparent background, which becomes black" in err
    assert "pass --invert" in err


def test_a_blank_image_gets_a_note(tmp_path):
    Image.fromarray(np.full((28, 28), 7, np.uint8)).save(tmp_path / "blank.png")
    assert read_image(tmp_path / "blank.png").notes == [
        f"{tmp_path / 'blank.png'} is blank: every pixel is about 7 (of 255)"
    ]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_decompression_bomb_is_refused_before_decoding_in_one_line(tmp_path, finished_run, capsys):
    # A valid PNG header for 60000 x 60000 pixels (3.6 gigapixels), with a few bytes of pixel data.
    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    data += png_chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + png_chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(data)
    assert predict_cli.main([str(finished_run), str(tmp_path / "bomb.png")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(
        f"tensorgrad-predict: error: {tmp_path / 'bomb.png'}: cannot read the image (DecompressionBombError: "
        "Image size (3600000000 pixels) exceeds limit"
    )


def test_an_image_larger_than_the_limit_is_refused_with_its_size(tmp_path):
    header = struct.pack(">IIBBBBB", 10000, 8000, 8, 0, 0, 0, 0)  # 80 megapixels: below Pillow's own limit
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    (tmp_path / "big.png").write_bytes(data + png_chunk(b"IEND", b""))
    with pytest.raises(ImageError) as info:
        load_image(tmp_path / "big.png")
    assert str(info.value) == (
        f"{tmp_path / 'big.png'}: the image is 10000x8000 pixels, more than the 25000000 this tool reads "
        "(the model sees 28x28)"
    )


def test_a_truncated_png_is_named_in_the_error(tmp_path, finished_run, capsys):
    Image.fromarray(ramp(255, np.uint8)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert predict_cli.main([str(finished_run), str(tmp_path / "cut.png")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert f"tensorgrad-predict: error: {tmp_path / 'cut.png'}: cannot read the image" in err
    assert "truncated" in err


def test_a_long_thin_image_is_resized_without_padding_it_to_a_huge_square_first(tmp_path):
    strip = np.zeros((12, 32000), np.uint8)  # found by the fuzzer: padded first, this took a gigabyte
    strip[:, 15000:17000] = 255
    Image.fromarray(strip).save(tmp_path / "strip.png")
    # In a process whose address space is limited to 512 MiB (pixel buffers are Pillow's, not Python's).
    code = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
        import numpy as np
        from tensorgrad.training import load_image
        image = load_image({str(tmp_path / "strip.png")!r})
        print(*image.shape, image[:13].max(), image[15:].max(), image[13:15].max())
        """
    )
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=environment
    )
    assert result.returncode == 0, result.stderr
    height, width, above, below, middle = map(int, result.stdout.split())
    assert (height, width, above, below) == (28, 28, 0, 0) and middle > 0  # a 28x1 strip, centred
