"""Data: the IDX reader, Fashion-MNIST (find, download, verify, load), and mini-batch loading."""

from . import transforms
from .download import DownloadError, download_file
from .fashion_mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_SHA256,
    DatasetError,
    DatasetNotFoundError,
    FashionMNIST,
    load_fashion_mnist,
)
from .idx import IDXError, parse_idx, read_idx
from .loader import DataLoader, to_float32, train_val_split

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_SHA256",
    "DataLoader",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "FashionMNIST",
    "IDXError",
    "download_file",
    "load_fashion_mnist",
    "parse_idx",
    "read_idx",
    "to_float32",
    "train_val_split",
    "transforms",
]
