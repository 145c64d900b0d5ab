"""Fashion-MNIST: find it on disk (or download it), verify it, load it.

Search order for a directory holding all four files (each either `.gz` or raw):
  1. the `root` argument, 2. `$TENSORGRAD_DATA`, 3. the user cache dir
  (`$XDG_CACHE_HOME/tensorgrad/fashion-mnist`, default `~/.cache/tensorgrad/fashion-mnist`),
  4. `/usr/share/datasets/fashion-mnist` (Debian's package `dataset-fashion-mnist`).
If none has them, the `.gz` files are downloaded into the first of `root`, `$TENSORGRAD_DATA`, the cache dir.
With `only_root=True` only `root` is looked at (and downloaded into): a folder named on purpose that holds no
data set is an error, not a reason to quietly use another copy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .download import download_file
from .idx import parse_idx, read_decompressed

__all__ = [
    "DEBIAN_DATA_DIR",
    "DEFAULT_MIRROR",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_SHA256",
    "DatasetError",
    "DatasetNotFoundError",
    "FashionMNIST",
    "default_cache_dir",
    "load_fashion_mnist",
    "search_dirs",
]

FASHION_MNIST_CLASSES: tuple[str, ...] = (
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

# Looked up at call time (not bound as argument defaults), so tests can point them elsewhere.
DEFAULT_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FASHION_MNIST_FILES: tuple[str, ...] = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# SHA-256 of the DECOMPRESSED files, so any gzip of the same data verifies (Debian recompresses them).
# Decompressed sizes: 47040016, 60008, 7840016, 10008 bytes.
FASHION_MNIST_SHA256: Mapping[str, str] = MappingProxyType(
    {
        TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }
)

_IMAGE_SIZE = (28, 28)
_ROOT_NOTE = "root argument"


class DatasetError(ValueError):
    """A data set file is readable but wrong (checksum, dtype, shape, labels); the message names the file."""


class DatasetNotFoundError(FileNotFoundError):
    """No searched folder holds the data set. `summary` is the first line, `searched` one line per folder
    (where it came from and what it lacks), `download_dir` where a download would go; the message ends with
    how to fix it from Python (a command-line tool can give its own words with `explain`)."""

    def __init__(self, summary: str, searched: list[tuple[Path, str, str]], download_dir: Path, fix: str):
        self.summary, self.searched, self.download_dir, self.fix = summary, searched, download_dir, fix
        super().__init__(self.explain(fix))

    def explain(self, fix: str, root_note: str = "root argument") -> str:
        """The message, with `fix` as its last line and the `root` folder called `root_note`."""
        lines = [self.summary, "Searched:"]
        for directory, note, status in self.searched:
            lines.append(f"  {directory} ({root_note if note == _ROOT_NOTE else note}): {status}")
        return "\n".join([*lines, f"To fix: {fix}"])


@dataclass(frozen=True, eq=False)  # eq on arrays would be ambiguous
class FashionMNIST:
    """The loaded data set: uint8 images (N, 28, 28), int64 labels (N,), class names, and its directory."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    source: Path
    downloaded: bool = False  # True if (some of) the files were downloaded by this call

    def __repr__(self) -> str:
        return (
            f"FashionMNIST(train={self.train_images.shape[0]}, test={self.test_images.shape[0]}, "
            f"classes={len(self.classes)}, source={str(self.source)!r})"
        )


def load_fashion_mnist(
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = True,
    *,
    mirror: str | None = None,
    checksums: Mapping[str, str] | None = None,
    progress: bool = True,
    only_root: bool = False,
) -> FashionMNIST:
    """Find (or download) Fashion-MNIST and load it; see the module docstring for where it looks.

    Each file is parsed first (a malformed file gets the IDX reader's precise message), then `verify` checks
    its SHA-256 against `checksums` (default: the real data set's); downloads are always verified. `mirror`
    overrides the download base URL. `only_root` looks in `root` alone. Raises `DatasetNotFoundError` (a
    `FileNotFoundError`) if nothing is found and `download` is false, `DatasetError` for a file that fails
    its checks, and `IDXError`/`DownloadError` from reading/downloading.
    """
    if only_root and root is None:
        raise ValueError("only_root=True needs a root")
    checksums = FASHION_MNIST_SHA256 if checksums is None else checksums
    missing_sums = [name for name in FASHION_MNIST_FILES if name not in checksums]
    if missing_sums:
        raise ValueError(f"checksums has no entry for {', '.join(missing_sums)}")

    searched = search_dirs(root)[:1] if only_root else search_dirs(root)
    downloaded = False
    for directory, _ in searched:
        files, _ = _locate_files(directory)
        if files is not None:
            break
    else:
        target = _download_dir(root)
        if not download:
            raise _not_found(searched, target)
        files = _download_missing(target, mirror or DEFAULT_MIRROR, checksums, progress)
        directory, downloaded = target, True

    arrays = {name: _load_file(path, checksums[name] if verify else None) for name, path in files.items()}
    train_images, train_labels = _checked_pair(arrays, files, TRAIN_IMAGES, TRAIN_LABELS)
    test_images, test_labels = _checked_pair(arrays, files, TEST_IMAGES, TEST_LABELS)
    return FashionMNIST(
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        classes=FASHION_MNIST_CLASSES,
        source=directory,
        downloaded=downloaded,
    )


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/tensorgrad/fashion-mnist`, or `~/.cache/tensorgrad/fashion-mnist`."""
    xdg_cache = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg_cache) if os.path.isabs(xdg_cache) else Path.home() / ".cache"
    return base / "tensorgrad" / "fashion-mnist"


def search_dirs(root: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """The directories searched, in order, each with a short note on where it comes from."""
    candidates: list[tuple[Path, str]] = []
    if root is not None:
        candidates.append((Path(root).expanduser(), _ROOT_NOTE))
    env_dir = os.environ.get("TENSORGRAD_DATA", "")
    if env_dir:
        candidates.append((Path(env_dir).expanduser(), "$TENSORGRAD_DATA"))
    candidates.append((default_cache_dir(), "user cache"))
    candidates.append((Path(DEBIAN_DATA_DIR), "Debian package dataset-fashion-mnist"))
    unique: list[tuple[Path, str]] = []
    for directory, note in candidates:
        if all(directory != seen for seen, _ in unique):
            unique.append((directory, note))
    return unique


def _download_dir(root: str | os.PathLike[str] | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    env_dir = os.environ.get("TENSORGRAD_DATA", "")
    return Path(env_dir).expanduser() if env_dir else default_cache_dir()


def _locate_files(directory: Path) -> tuple[dict[str, Path] | None, list[str]]:
    """All four files in `directory` (None if any is missing), and the names of the missing ones."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in FASHION_MNIST_FILES:
        path = next((p for p in (directory / f"{name}.gz", directory / name) if p.is_file()), None)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    return (found if not missing else None), missing


def _not_found(searched: list[tuple[Path, str]], target: Path) -> DatasetNotFoundError:
    lines = []
    for directory, note in searched:
        if not directory.exists():
            status = "does not exist"
        elif not directory.is_dir():
            status = "is not a directory"
        else:
            _, missing = _locate_files(directory)
            status = f"missing {', '.join(missing)}"
        lines.append((directory, note, status))
    return DatasetNotFoundError(
        f"Fashion-MNIST not found: no directory holds all of {', '.join(FASHION_MNIST_FILES)} (.gz or raw).",
        lines,
        target,
        "install Debian's copy with `sudo apt-get install dataset-fashion-mnist`, "
        f"or call load_fashion_mnist(download=True) to download it into {target}, "
        "or put the four files in one of the directories above.",
    )


def _download_missing(
    target: Path, mirror: str, checksums: Mapping[str, str], progress: bool
) -> dict[str, Path]:
    # Files already there (a previous, interrupted run) are kept; they are verified on load like any other.
    target.mkdir(parents=True, exist_ok=True)
    _, missing = _locate_files(target)
    base_url = mirror.rstrip("/") + "/"
    for name in missing:
        download_file(
            base_url + f"{name}.gz", target / f"{name}.gz", sha256=checksums[name], progress=progress
        )
    files, still_missing = _locate_files(target)
    if files is None:  # pragma: no cover - download_file either lands the file or raises
        raise FileNotFoundError(f"{target}: still missing {', '.join(still_missing)} after downloading")
    return files


def _load_file(path: Path, expected_sha256: str | None) -> np.ndarray:
    # Parsed before it is verified: a truncated or foreign file gets the reader's precise message
    # (offset, expected and actual sizes) rather than a bare checksum mismatch.
    data = read_decompressed(path)
    array = parse_idx(data, source=str(path))
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256.lower():
            if path.parent == Path(DEBIAN_DATA_DIR):
                fix = "reinstall it with `sudo apt-get install --reinstall dataset-fashion-mnist`"
            else:
                fix = f"delete it (rm {path}) and load again to re-download it"
            raise DatasetError(
                f"{path}: SHA-256 mismatch of the decompressed content: expected {expected_sha256.lower()}, "
                f"got {actual}. The file is well-formed but not the original; {fix}."
            )
    return array


def _checked_pair(
    arrays: dict[str, np.ndarray], files: dict[str, Path], images_name: str, labels_name: str
) -> tuple[np.ndarray, np.ndarray]:
    images, labels = arrays[images_name], arrays[labels_name]
    images_path, labels_path = files[images_name], files[labels_name]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _IMAGE_SIZE:
        raise DatasetError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{labels_path}: expected uint8 labels of shape (N,), got {labels.dtype} {labels.shape}"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    out_of_range = np.flatnonzero(labels >= len(FASHION_MNIST_CLASSES))
    if out_of_range.size:
        first = int(out_of_range[0])
        raise DatasetError(
            f"{labels_path}: {out_of_range.size} labels out of range 0..{len(FASHION_MNIST_CLASSES) - 1}, "
            f"the first is {int(labels[first])} at index {first}"
        )
    return images, labels.astype(np.int64)
