"""What the commands say about the data: the reader's precise message, the command's own words, the folder used."""

from __future__ import annotations

import gzip

import pytest

import tensorgrad.data.fashion_mnist as fashion_mnist
from tensorgrad.cli import evaluate as evaluate_cli
from tensorgrad.data import DatasetNotFoundError, load_fashion_mnist
from tensorgrad.training import Checkpoint, TrainConfig, build_model, save_checkpoint

from .conftest import encode_idx, write_synthetic_fashion


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run folder with an untrained best.npz (hidden 8, 4): enough for evaluate to read."""
    run_dir = tmp_path_factory.mktemp("run")
    config = TrainConfig(hidden=(8, 4))
    model = build_model(config, rng=0)
    save_checkpoint(
        run_dir / "best.npz",
        Checkpoint(config=config.to_dict(), model_state=model.state_dict(), epoch=1, best_metric=0.5),
    )
    return run_dir


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DATA_DIR", tmp_path / "no-debian-copy")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:-100], "truncated: expected 15680 data bytes after the 16-byte header"),
        (lambda data: b"\x01\x02" + data[2:], "bad magic number 0x01020803 at byte offset 0"),
        (lambda data: b"", "truncated header: expected at least 4 bytes (the magic number), got 0"),
    ],
    ids=["truncated", "wrong-magic", "empty"],
)
def test_a_damaged_raw_file_gets_the_readers_message_not_a_checksum(
    finished_run, tmp_path, capsys, damage, message
):
    data_dir = tmp_path / "data"
    synthetic = write_synthetic_fashion(data_dir, gz=False)  # 20 training images: the first file read
    images = data_dir / fashion_mnist.TRAIN_IMAGES
    images.write_bytes(damage(encode_idx(synthetic.arrays[fashion_mnist.TRAIN_IMAGES])))
    assert evaluate_cli.main([str(finished_run), "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"tensorgrad-evaluate: error: {images}: {message}" in err
    assert "SHA-256" not in err and "verify=False" not in err


def test_a_well_formed_file_that_is_not_the_original_names_no_flag_the_cli_lacks(tmp_path):
    root = tmp_path / "root"
    write_synthetic_fashion(root)
    with pytest.raises(fashion_mnist.DatasetError) as info:
        load_fashion_mnist(root, download=False, only_root=True)
    assert "SHA-256 mismatch" in str(info.value) and "verify=False" not in str(info.value)


def test_no_download_without_data_says_drop_the_flag(finished_run, no_data_anywhere, capsys, tmp_path):
    assert evaluate_cli.main([str(finished_run), "--no-download"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tensorgrad-evaluate: error: Fashion-MNIST not found")
    assert f"To fix: run again without --no-download to download it into {tmp_path / 'cache'}" in err
    assert "load_fashion_mnist" not in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["empty", "mistyped"])
def test_a_data_dir_without_the_data_set_is_an_error_not_another_copy(finished_run, tmp_path, capsys, kind):
    data_dir = tmp_path / "data"
    if kind == "empty":
        data_dir.mkdir()
    assert evaluate_cli.main([str(finished_run), "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    status = (
        "does not exist" if kind == "mistyped" else f"missing {', '.join(fashion_mnist.FASHION_MNIST_FILES)}"
    )
    assert f"  {data_dir} (--data-dir): {status}" in err
    assert f"To fix: put the four files in {data_dir}, or drop --data-dir" in err
    assert "/usr/share/datasets" not in err  # nothing else was searched


def test_the_data_folder_used_is_printed(finished_run, capsys):
    assert evaluate_cli.main([str(finished_run), "--no-download"]) == 0
    assert f"data: {fashion_mnist.DEBIAN_DATA_DIR}" in capsys.readouterr().err


def test_a_data_dir_with_the_data_is_used_and_named(finished_run, tmp_path, capsys):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name in fashion_mnist.FASHION_MNIST_FILES:
        source = fashion_mnist.DEBIAN_DATA_DIR / f"{name}.gz"
        (data_dir / f"{name}.gz").write_bytes(source.read_bytes())
    assert evaluate_cli.main([str(finished_run), "--data-dir", str(data_dir)]) == 0
    assert f"data: {data_dir}" in capsys.readouterr().err


def test_the_not_found_error_keeps_its_library_wording_for_python_callers(no_data_anywhere, tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist(tmp_path / "root", download=False)
    assert "load_fashion_mnist(download=True)" in str(info.value)
    assert f"{tmp_path / 'root'} (root argument): does not exist" in str(info.value)


def test_a_gzip_bomb_is_not_decompressed_past_what_its_header_declares(tmp_path):
    from tensorgrad.data import IDXError, read_idx

    header = encode_idx(__import__("numpy").zeros(10, "uint8"))
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=1) as file:
        file.write(header)
        for _ in range(256):
            file.write(bytes(1 << 20))  # 256 MB of trailing zeros in a file of 250 KB
    with pytest.raises(IDXError, match=r"trailing bytes: .* got more than 1048576 extra from byte offset 18"):
        read_idx(path)
