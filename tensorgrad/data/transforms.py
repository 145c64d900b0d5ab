"""Data augmentation for image batches: torchvision's names and semantics, vectorized over the batch.

Each transform takes a whole batch, uint8 or float, whose last two axes are height and width ((N, H, W) or
(N, C, H, W)), and a `numpy.random.Generator`, and returns a new batch of the same dtype; the input is never
changed. Every image of the batch gets its own random draw, as if torchvision's per-image transform had been
applied to each, but without a Python loop over the images. Randomness comes only from the generator
passed in, so a run that checkpoints that generator's state resumes bit for bit.

>>> augment = Compose([RandomCrop(28, padding=2), RandomHorizontalFlip(), RandomErasing()])
>>> batch = augment(images, np.random.default_rng(0))   # images: (N, 1, 28, 28) float32 or uint8
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["Compose", "RandomCrop", "RandomErasing", "RandomHorizontalFlip"]

#: how many boxes RandomErasing tries per image before leaving it unchanged (torchvision's 10)
_ERASING_ATTEMPTS = 10


def _check_batch(name: str, batch) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim < 3:
        raise ValueError(
            f"{name}: expected a batch of images (N, H, W) or (N, C, H, W), got shape {batch.shape}"
        )
    if batch.dtype.kind not in "uif":
        raise TypeError(f"{name}: expected uint8 or floating-point images, got {batch.dtype}")
    return batch


def _check_generator(name: str, rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name}: rng must be a numpy.random.Generator, not {type(rng).__name__}")
    return rng


def _pair(name: str, value, what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in pair):
        raise ValueError(
            f"{name}: {what} must be an int >= 1 or a pair (height, width) of them, got {value!r}"
        )
    return int(pair[0]), int(pair[1])


class Compose:
    """Apply `transforms` in order, each with the same generator (torchvision's `Compose`)."""

    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for transform in self.transforms:
            batch = transform(batch, rng)
        return batch

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


class RandomCrop:
    """Pad each image by `padding` (zeros, or `fill`) on every side, then cut a random (h, w) = `size` window.

    As torchvision's `RandomCrop(size, padding, fill=fill)` with `padding_mode="constant"`: `padding` is one
    int for all four sides, a pair (left/right, top/bottom) or a 4-tuple (left, top, right, bottom). Each
    image's window corner is drawn uniformly from the positions that fit.
    """

    def __init__(self, size, padding=None, fill: float = 0):
        self.size = _pair("RandomCrop", size, "size")
        if padding is None:
            padding = 0
        if isinstance(padding, (int, np.integer)):
            padding = (padding,) * 4
        elif len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        padding = tuple(int(p) for p in padding)
        if len(padding) != 4 or min(padding) < 0:
            raise ValueError(
                f"RandomCrop: padding must be an int >= 0, a pair or a 4-tuple (left, top, right, bottom) "
                f"of them, got {padding!r}"
            )
        self.padding = padding  # left, top, right, bottom
        self.fill = fill

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        batch, rng = _check_batch("RandomCrop", batch), _check_generator("RandomCrop", rng)
        left, top, right, bottom = self.padding
        height, width = batch.shape[-2] + top + bottom, batch.shape[-1] + left + right
        crop_h, crop_w = self.size
        if crop_h > height or crop_w > width:
            raise ValueError(
                f"RandomCrop: the crop {self.size} is larger than the padded images ({height}, {width}) "
                f"of the batch {batch.shape}"
            )
        # np.pad is several times slower than filling and copying into place
        padded = np.full((*batch.shape[:-2], height, width), self.fill, dtype=batch.dtype)
        padded[..., top : top + batch.shape[-2], left : left + batch.shape[-1]] = batch
        n = batch.shape[0]
        rows = rng.integers(0, height - crop_h + 1, size=n)
        cols = rng.integers(0, width - crop_w + 1, size=n)
        # Every crop_h x crop_w window of every image, as a view; image i takes its window at (rows[i], cols[i]).
        windows = sliding_window_view(padded.reshape(n, -1, height, width), (crop_h, crop_w), axis=(2, 3))
        out = windows[np.arange(n), :, rows, cols]  # (N, C, crop_h, crop_w)
        return out.reshape(*batch.shape[:-2], crop_h, crop_w)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left to right with probability `p` (torchvision's `RandomHorizontalFlip(p)`)."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        batch = _check_batch("RandomHorizontalFlip", batch)
        flip = _check_generator("RandomHorizontalFlip", rng).random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomErasing:
    """With probability `p`, set a random box of each image to `value` (torchvision's `RandomErasing`).

    The box covers a fraction of the image area drawn uniformly from `scale`, with an aspect ratio h/w drawn
    log-uniformly from `ratio`; a draw that does not fit the image is redrawn, up to 10 times, after which
    the image is left as it is (torchvision's rule). The box spans every channel; `value` is one number.
    """

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value: float = 0):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        scale, ratio = tuple(map(float, scale)), tuple(map(float, ratio))
        if len(scale) != 2 or not 0.0 <= scale[0] <= scale[1] <= 1.0:
            raise ValueError(
                f"RandomErasing: scale must be (min, max) with 0 <= min <= max <= 1, got {scale}"
            )
        if len(ratio) != 2 or not 0.0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomErasing: ratio must be (min, max) with 0 < min <= max, got {ratio}")
        if isinstance(value, str) or not math.isfinite(value):
            raise ValueError(f"RandomErasing: value must be a finite number, got {value!r}")
        self.p, self.scale, self.ratio, self.value = p, scale, ratio, value

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        batch, rng = _check_batch("RandomErasing", batch), _check_generator("RandomErasing", rng)
        n, (height, width) = batch.shape[0], batch.shape[-2:]
        erase = rng.random(n) < self.p
        # Every attempt of every image drawn at once; each image keeps its first box that fits.
        area = height * width * rng.uniform(*self.scale, size=(n, _ERASING_ATTEMPTS))
        aspect = np.exp(rng.uniform(*np.log(self.ratio), size=(n, _ERASING_ATTEMPTS)))
        box_h = np.rint(np.sqrt(area * aspect)).astype(np.int64)
        box_w = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        fits = (box_h < height) & (box_w < width)  # an empty box fits, and erases nothing (torchvision)
        first = fits.argmax(axis=1)
        erase &= fits.any(axis=1)
        box_h, box_w = (
            box_h[np.arange(n), first],
            box_w[np.arange(n), first],
        )  # (round half to even, as round())
        top = np.floor(rng.random(n) * (height - box_h + 1)).astype(np.int64)
        left = np.floor(rng.random(n) * (width - box_w + 1)).astype(np.int64)
        rows, cols = np.arange(height), np.arange(width)
        inside_rows = (rows >= top[:, None]) & (rows < (top + box_h)[:, None])
        inside_cols = (cols >= left[:, None]) & (cols < (left + box_w)[:, None])
        mask = inside_rows[:, :, None] & inside_cols[:, None, :] & erase[:, None, None]  # (N, H, W)
        mask = mask.reshape(n, *(1,) * (batch.ndim - 3), height, width)
        return np.where(mask, np.asarray(self.value).astype(batch.dtype), batch)

    def __repr__(self) -> str:
        return f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value})"
