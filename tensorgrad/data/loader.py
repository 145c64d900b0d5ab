"""Mini-batch iteration, train/validation split and pixel scaling for in-memory NumPy data sets."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from math import prod

import numpy as np

from ..random import as_generator

__all__ = ["DataLoader", "to_float32", "train_val_split"]


def to_float32(images: np.ndarray, flatten: bool = True) -> np.ndarray:
    """uint8 images (N, H, W) or (N, D) as float32 with values in [0, 1]: flattened to (N, H*W), or with
    `flatten=False` in their own shape (for models that take images)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    if images.ndim < 2:
        raise ValueError(f"expected images of shape (N, H, W) or (N, D), got shape {images.shape}")
    shaped = images.reshape(images.shape[0], prod(images.shape[1:])) if flatten else images
    out = shaped.astype(np.float32)  # straight from uint8: no float64 intermediate
    # Dividing (rather than multiplying by 1/255) maps 255 to exactly 1.0.
    np.divide(out, np.float32(255), out=out)
    return out


def train_val_split(
    images: np.ndarray,
    labels: np.ndarray,
    val_size: int | float,
    rng: int | np.random.Generator | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out `val_size` random examples (a count, or a fraction in (0, 1)) as a validation set.

    Returns `(train_x, train_y), (val_x, val_y)`; both parts are copies that keep the original order.
    Both parts must be non-empty.
    """
    n = _check_same_length(images, labels, "images", "labels")
    if isinstance(val_size, bool) or not isinstance(val_size, (numbers.Integral, numbers.Real)):
        raise TypeError(f"val_size must be an int count or a float fraction, got {type(val_size).__name__}")
    if isinstance(val_size, numbers.Integral):
        count = int(val_size)
        if not 1 <= count <= n - 1:
            raise ValueError(
                f"val_size={count} is out of range: it must be between 1 and {n - 1} for {n} examples"
            )
    else:
        fraction = float(val_size)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"val_size={fraction} is out of range: a fraction must be in (0, 1)")
        count = round(fraction * n)
        if not 1 <= count <= n - 1:
            raise ValueError(
                f"val_size={fraction} of {n} examples is {count}, which leaves an empty "
                f"{'validation' if count < 1 else 'training'} set"
            )
    order = as_generator(rng).permutation(n)
    # Sorted indices keep the original order within each part and gather memory sequentially.
    val_index = np.sort(order[:count])
    train_index = np.sort(order[count:])
    images, labels = np.asarray(images), np.asarray(labels)
    return (images[train_index], labels[train_index]), (images[val_index], labels[val_index])


class DataLoader:
    """Iterate over `(x_batch, y_batch)` mini-batches of two aligned arrays.

    With `shuffle`, each epoch (each `iter()`) uses a new permutation drawn from `rng` (an int seed, a
    `numpy.random.Generator`, or None). `rng` is exposed as `.rng`: saving `loader.rng.bit_generator.state`
    between epochs and restoring it later reproduces the following epochs' order exactly. The last partial
    batch is yielded unless `drop_last`. Batches keep the dtype of `x` and `y`. `transform`, if given, maps
    each x batch to the one yielded (data augmentation, see `tensorgrad.data.transforms`; it keeps its own
    generator, which a checkpoint saves beside `rng`).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 128,
        shuffle: bool = True,
        rng: int | np.random.Generator | None = None,
        drop_last: bool = False,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        self.num_examples = _check_same_length(self.x, self.y, "x", "y")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = as_generator(rng)
        self.transform = transform

    def __len__(self) -> int:
        """Number of batches per epoch."""
        full, rest = divmod(self.num_examples, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # The permutation is drawn here, when the epoch starts, not lazily at the first batch: the rng
        # state after iter() is then well defined, which checkpoints rely on.
        order = self.rng.permutation(self.num_examples) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, self.num_examples), self.batch_size):
            end = start + self.batch_size
            if order is None:
                x, y = self.x[start:end], self.y[start:end]
            else:
                index = order[start:end]
                x, y = self.x[index], self.y[index]
            yield (x if self.transform is None else self.transform(x)), y

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_examples={self.num_examples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})"
        )


def _check_same_length(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> int:
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        raise ValueError(f"{a_name} and {b_name} must be arrays with a leading example axis, not scalars")
    if len(a) != len(b):
        raise ValueError(
            f"{a_name} and {b_name} differ in length: {a_name} has {len(a)}, {b_name} has {len(b)}"
        )
    return len(a)
