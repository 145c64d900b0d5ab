from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

import tensorgrad.data.fashion_mnist as fashion_mnist
from tensorgrad.data import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_SHA256,
    DatasetError,
    DownloadError,
    FashionMNIST,
    load_fashion_mnist,
)

from .conftest import encode_idx

# Every test here runs without $TENSORGRAD_DATA, with an empty cache dir and an unreachable default mirror.
pytestmark = pytest.mark.usefixtures("isolated_data_env")

NAMES = fashion_mnist.FASHION_MNIST_FILES


def assert_matches(dataset: FashionMNIST, synthetic) -> None:
    arrays = synthetic.arrays
    np.testing.assert_array_equal(dataset.train_images, arrays[fashion_mnist.TRAIN_IMAGES])
    np.testing.assert_array_equal(dataset.train_labels, arrays[fashion_mnist.TRAIN_LABELS])
    np.testing.assert_array_equal(dataset.test_images, arrays[fashion_mnist.TEST_IMAGES])
    np.testing.assert_array_equal(dataset.test_labels, arrays[fashion_mnist.TEST_LABELS])
    assert dataset.train_images.dtype == np.uint8 and dataset.train_labels.dtype == np.int64
    assert dataset.classes == FASHION_MNIST_CLASSES


def test_class_names_in_label_order():
    assert FASHION_MNIST_CLASSES == (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )


def test_real_data_from_the_debian_package():
    # Deliberately not skipped when the data is missing: CI installs dataset-fashion-mnist.
    dataset = load_fashion_mnist(download=False)  # verify=True: checks the real SHA-256 table

    assert dataset.source == Path("/usr/share/datasets/fashion-mnist")
    assert dataset.train_images.shape == (60000, 28, 28)
    assert dataset.test_images.shape == (10000, 28, 28)
    assert dataset.train_labels.shape == (60000,)
    assert dataset.test_labels.shape == (10000,)
    assert dataset.train_images.dtype == np.uint8 and dataset.test_images.dtype == np.uint8
    assert dataset.train_labels.dtype == np.int64 and dataset.test_labels.dtype == np.int64
    assert dataset.train_images.max() == 255 and dataset.train_images.min() == 0
    np.testing.assert_array_equal(np.bincount(dataset.train_labels, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(dataset.test_labels, minlength=10), [1000] * 10)
    assert dataset.classes == FASHION_MNIST_CLASSES
    assert "train=60000" in repr(dataset)


def test_dataset_is_frozen(tmp_path, make_fashion):
    synthetic = make_fashion(tmp_path / "root")
    dataset = load_fashion_mnist(tmp_path / "root", download=False, checksums=synthetic.checksums)
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.train_images = None


def test_download_end_to_end_then_found_on_disk(tmp_path, http_server, make_fashion, no_debian_copy):
    synthetic = make_fashion(http_server.directory)
    root = tmp_path / "root"

    dataset = load_fashion_mnist(
        root=root, mirror=http_server.url, checksums=synthetic.checksums, progress=False
    )

    assert_matches(dataset, synthetic)
    assert dataset.source == root
    assert sorted(http_server.requests) == sorted(f"/{name}.gz" for name in NAMES)
    assert sorted(p.name for p in root.iterdir()) == sorted(f"{name}.gz" for name in NAMES)

    again = load_fashion_mnist(
        root=root, mirror=http_server.url, checksums=synthetic.checksums, progress=False
    )
    assert_matches(again, synthetic)
    assert again.source == root
    assert len(http_server.requests) == 4  # nothing downloaded the second time


def test_mirror_without_trailing_slash(tmp_path, http_server, make_fashion, no_debian_copy):
    synthetic = make_fashion(http_server.directory)
    mirror = http_server.url.rstrip("/")
    dataset = load_fashion_mnist(
        tmp_path / "root", mirror=mirror, checksums=synthetic.checksums, progress=False
    )
    assert_matches(dataset, synthetic)


def test_only_missing_files_are_downloaded(tmp_path, http_server, make_fashion, no_debian_copy):
    synthetic = make_fashion(http_server.directory)
    root = tmp_path / "root"
    root.mkdir()
    for name in NAMES[:2]:
        (root / f"{name}.gz").write_bytes((http_server.directory / f"{name}.gz").read_bytes())

    dataset = load_fashion_mnist(root, mirror=http_server.url, checksums=synthetic.checksums, progress=False)

    assert_matches(dataset, synthetic)
    assert sorted(http_server.requests) == sorted(f"/{name}.gz" for name in NAMES[2:])


def test_downloads_into_tensorgrad_data_then_cache(
    tmp_path, http_server, make_fashion, no_debian_copy, isolated_data_env, monkeypatch
):
    synthetic = make_fashion(http_server.directory)
    options = dict(mirror=http_server.url, checksums=synthetic.checksums, progress=False)

    assert load_fashion_mnist(**options).source == isolated_data_env  # the cache dir
    assert (isolated_data_env / f"{NAMES[0]}.gz").is_file()

    env_dir = tmp_path / "env-data"
    monkeypatch.setenv("TENSORGRAD_DATA", str(env_dir))
    isolated_data_env.joinpath(f"{NAMES[0]}.gz").unlink()  # the cache no longer has a complete set
    assert load_fashion_mnist(**options).source == env_dir
    assert len(list(env_dir.iterdir())) == 4


def test_download_failure_leaves_no_files(tmp_path, http_server, make_fashion, no_debian_copy):
    synthetic = make_fashion(http_server.directory)
    wrong = dict(synthetic.checksums)
    wrong[fashion_mnist.TEST_IMAGES] = "f" * 64
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match=f"{fashion_mnist.TEST_IMAGES}.gz: SHA-256 mismatch"):
        load_fashion_mnist(root, mirror=http_server.url, checksums=wrong, progress=False)
    assert not (root / f"{fashion_mnist.TEST_IMAGES}.gz").exists()
    assert all(not p.name.startswith(".") for p in root.iterdir())  # no temporary files


def test_download_is_verified_even_with_verify_false(tmp_path, http_server, make_fashion, no_debian_copy):
    make_fashion(http_server.directory)
    wrong = {name: "0" * 64 for name in NAMES}
    with pytest.raises(DownloadError):
        load_fashion_mnist(
            tmp_path / "root", verify=False, mirror=http_server.url, checksums=wrong, progress=False
        )


# ---- where the data is looked for ----


def test_search_order_root_then_env_then_cache_then_debian(
    tmp_path, make_fashion, isolated_data_env, monkeypatch
):
    root, env_dir, cache_dir = tmp_path / "root", tmp_path / "env", isolated_data_env
    debian_dir = tmp_path / "debian"
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DATA_DIR", debian_dir)
    monkeypatch.setenv("TENSORGRAD_DATA", str(env_dir))
    tables = {}
    for seed, directory in enumerate([root, env_dir, cache_dir, debian_dir]):
        tables[directory] = make_fashion(directory, seed=seed).checksums

    def source(root_argument=None):
        return load_fashion_mnist(root_argument, download=False, verify=False).source

    assert source(root) == root
    assert source() == env_dir
    monkeypatch.delenv("TENSORGRAD_DATA")
    assert source() == cache_dir
    assert source(tmp_path / "elsewhere") == cache_dir  # an empty root falls through to the others
    for name in NAMES:
        (cache_dir / f"{name}.gz").unlink()
    assert source() == debian_dir

    dataset = load_fashion_mnist(download=False, checksums=tables[debian_dir])
    assert dataset.source == debian_dir


def test_search_dirs_lists_sources_in_order(tmp_path, isolated_data_env, monkeypatch):
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "env"))
    dirs = fashion_mnist.search_dirs(tmp_path / "root")
    assert [d for d, _ in dirs] == [
        tmp_path / "root",
        tmp_path / "env",
        isolated_data_env,
        Path(fashion_mnist.DEBIAN_DATA_DIR),
    ]


def test_cache_dir_defaults_to_home_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fashion_mnist.default_cache_dir() == tmp_path / "home" / ".cache" / "tensorgrad" / "fashion-mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid per the XDG spec: ignored
    assert fashion_mnist.default_cache_dir() == tmp_path / "home" / ".cache" / "tensorgrad" / "fashion-mnist"


def test_raw_files_are_found_too(tmp_path, make_fashion):
    synthetic = make_fashion(tmp_path / "root", gz=False)
    dataset = load_fashion_mnist(tmp_path / "root", download=False, checksums=synthetic.checksums)
    assert_matches(dataset, synthetic)


def test_not_found_lists_every_directory_and_the_fixes(
    tmp_path, make_fashion, no_debian_copy, isolated_data_env, monkeypatch
):
    env_dir = tmp_path / "env"
    monkeypatch.setenv("TENSORGRAD_DATA", str(env_dir))
    make_fashion(env_dir)
    (env_dir / f"{fashion_mnist.TEST_LABELS}.gz").unlink()  # an incomplete set does not count
    root = tmp_path / "root"

    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(root, download=False)

    message = str(info.value)
    for directory in (root, env_dir, isolated_data_env, no_debian_copy):
        assert str(directory) in message
    assert f"{env_dir} ($TENSORGRAD_DATA): missing {fashion_mnist.TEST_LABELS}" in message
    assert f"{root} (root argument): does not exist" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=True" in message
    assert not root.exists()  # download=False creates nothing


# ---- verification of what is found ----


def test_checksum_mismatch_names_file_digests_and_fix(tmp_path, make_fashion):
    root = tmp_path / "root"
    synthetic = make_fashion(root)
    tampered = root / f"{fashion_mnist.TRAIN_LABELS}.gz"
    labels = synthetic.arrays[fashion_mnist.TRAIN_LABELS][::-1].copy()
    tampered.write_bytes(gzip.compress(encode_idx(labels)))

    with pytest.raises(DatasetError) as info:
        load_fashion_mnist(root, download=False, checksums=synthetic.checksums)
    message = str(info.value)
    assert message.startswith(f"{tampered}: SHA-256 mismatch")
    assert f"expected {synthetic.checksums[fashion_mnist.TRAIN_LABELS]}" in message
    assert "got " in message and f"rm {tampered}" in message

    # With verify=False the (well-formed) file is loaded as is.
    dataset = load_fashion_mnist(root, download=False, verify=False)
    np.testing.assert_array_equal(dataset.train_labels, labels)


def test_real_checksums_reject_other_data(tmp_path, make_fashion):
    make_fashion(tmp_path / "root")
    with pytest.raises(DatasetError, match="SHA-256 mismatch"):
        load_fashion_mnist(tmp_path / "root", download=False)  # default table: the real data set's


def test_checksum_table_must_cover_every_file(tmp_path):
    with pytest.raises(ValueError, match=fashion_mnist.TEST_LABELS):
        load_fashion_mnist(tmp_path, download=False, checksums={name: "0" * 64 for name in NAMES[:3]})


def test_labels_out_of_range(tmp_path, make_fashion):
    root = tmp_path / "root"
    make_fashion(root)
    labels_path = root / f"{fashion_mnist.TEST_LABELS}.gz"
    labels = (np.arange(10) % 10).astype(np.uint8)
    labels[7] = 10
    labels_path.write_bytes(gzip.compress(encode_idx(labels)))
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist(root, download=False, verify=False)
    assert str(info.value) == f"{labels_path}: 1 labels out of range 0..9, the first is 10 at index 7"


def test_image_and_label_counts_must_match(tmp_path, make_fashion):
    root = tmp_path / "root"
    make_fashion(root)
    labels_path = root / f"{fashion_mnist.TRAIN_LABELS}.gz"
    labels_path.write_bytes(gzip.compress(encode_idx(np.zeros(19, dtype=np.uint8))))
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist(root, download=False, verify=False)
    assert str(info.value) == (
        f"{root / fashion_mnist.TRAIN_IMAGES}.gz has 20 images but {labels_path} has 19 labels"
    )


def test_images_must_be_28x28_uint8(tmp_path, make_fashion):
    root = tmp_path / "root"
    make_fashion(root)
    images_path = root / f"{fashion_mnist.TEST_IMAGES}.gz"
    images_path.write_bytes(gzip.compress(encode_idx(np.zeros((10, 28, 27), dtype=np.uint8))))
    with pytest.raises(DatasetError, match="expected uint8 images of shape"):
        load_fashion_mnist(root, download=False, verify=False)


def test_environment_is_isolated():
    # pytestmark applies isolated_data_env to every test of this module; monkeypatch undoes it after each.
    assert "TENSORGRAD_DATA" not in os.environ
    assert fashion_mnist.DEFAULT_MIRROR.startswith("http://127.0.0.1:")
    assert dict(FASHION_MNIST_SHA256) == {
        fashion_mnist.TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        fashion_mnist.TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        fashion_mnist.TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        fashion_mnist.TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }
