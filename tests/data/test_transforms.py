"""Batch augmentation: each transform against a per-image reference (torchvision's rules, one image at a
time), dtypes and shapes kept, the input untouched, and the generator the only source of randomness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorgrad.data.transforms import Compose, RandomCrop, RandomErasing, RandomHorizontalFlip


def batch(shape=(16, 1, 28, 28), dtype=np.float32, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(1, 256, shape, dtype=np.uint8)  # no zeros: an erased pixel stands out
    return (rng.random(shape, dtype=np.float32) + np.float32(0.01)).astype(dtype)


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(3, 9),
    width=st.integers(3, 9),
    padding=st.tuples(*[st.integers(0, 3)] * 4),
    channels=st.sampled_from([(), (1,), (3,)]),
    seed=st.integers(0, 2**16),
)
def test_random_crop_cuts_each_padded_image_at_its_own_corner(height, width, padding, channels, seed):
    images = batch((5, *channels, height, width), np.uint8, seed)
    left, top, right, bottom = padding
    size = (height, max(1, width - 1))
    out = RandomCrop(size, padding=padding, fill=7)(images, np.random.default_rng(seed))
    # the reference: the same draws, then one image at a time, padded by np.pad and sliced
    draws = np.random.default_rng(seed)
    rows = draws.integers(0, height + top + bottom - size[0] + 1, size=5)
    cols = draws.integers(0, width + left + right - size[1] + 1, size=5)
    lead = ((0, 0),) * len(channels)
    for i, image in enumerate(images):
        padded = np.pad(image, (*lead, (top, bottom), (left, right)), constant_values=7)
        expected = padded[..., rows[i] : rows[i] + size[0], cols[i] : cols[i] + size[1]]
        assert np.array_equal(out[i], expected)
    assert out.dtype == np.uint8 and out.shape == (5, *channels, *size)


def test_random_crop_keeps_dtype_shape_and_input_and_without_padding_is_the_image():
    images = batch(dtype=np.float32)
    before = images.copy()
    out = RandomCrop(28, padding=2)(images, np.random.default_rng(1))
    assert np.array_equal(images, before) and out.dtype == np.float32 and out.shape == images.shape
    assert not np.array_equal(out, images)
    assert np.array_equal(RandomCrop(28)(images, np.random.default_rng(0)), images)
    three_d = images[:, 0]  # (N, H, W) batches too
    assert RandomCrop((20, 24), padding=(1, 3))(three_d, np.random.default_rng(0)).shape == (16, 20, 24)


def test_horizontal_flip_mirrors_each_image_with_probability_p():
    images = batch((400, 1, 5, 6))
    out = RandomHorizontalFlip(0.3)(images, np.random.default_rng(2))
    flipped = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, images)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, images)])
    assert (flipped ^ kept).all()
    assert abs(flipped.mean() - 0.3) < 0.07
    assert np.array_equal(RandomHorizontalFlip(0.0)(images, np.random.default_rng(0)), images)
    assert np.array_equal(RandomHorizontalFlip(1.0)(images, np.random.default_rng(0)), images[..., ::-1])


def erased_box(before: np.ndarray, after: np.ndarray, value) -> tuple[int, int] | None:
    """The (height, width) of the box `after` erased to `value` in every channel, or None if unchanged."""
    changed = (after != before).any(axis=tuple(range(after.ndim - 2)))
    if not changed.any():
        return None
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    box = after[..., rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    assert (box == value).all(), "the whole box, in every channel, holds the value"
    outside = after.copy()
    outside[..., rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = before[
        ..., rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1
    ]
    assert np.array_equal(outside, before), "nothing outside the box changes"
    return len(rows), len(cols)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_random_erasing_erases_one_box_of_torchvisions_sizes(dtype):
    images = batch((300, 3, 28, 28), dtype)
    scale, ratio = (0.02, 0.33), (0.3, 3.3)
    out = RandomErasing(p=0.6, scale=scale, ratio=ratio, value=0)(images, np.random.default_rng(3))
    assert out.dtype == images.dtype and out.shape == images.shape
    boxes = [erased_box(b, a, 0) for b, a in zip(images, out)]
    erased = [box for box in boxes if box is not None]
    assert abs(len(erased) / len(boxes) - 0.6) < 0.1
    for h, w in erased:
        # h = round(sqrt(area * r)) and w = round(sqrt(area / r)) for an area in scale * 784 and r in ratio:
        # the area then lies within [(h - 1/2)(w - 1/2), (h + 1/2)(w + 1/2)], r within
        # [(h - 1/2) / (w + 1/2), (h + 1/2) / (w - 1/2)]
        assert (h - 0.5) * (w - 0.5) <= scale[1] * 784 and (h + 0.5) * (w + 0.5) >= scale[0] * 784
        assert (h - 0.5) / (w + 0.5) <= ratio[1] and (h + 0.5) / max(w - 0.5, 1e-9) >= ratio[0]
        assert h < 28 and w < 28


def test_random_erasing_leaves_an_image_whose_boxes_never_fit():
    images = batch((20, 1, 4, 4))
    # every box covers the whole image: none fits (torchvision then returns the image unchanged)
    out = RandomErasing(p=1.0, scale=(1.0, 1.0), ratio=(1.0, 1.0))(images, np.random.default_rng(0))
    assert np.array_equal(out, images)
    out = RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.5)(
        images, np.random.default_rng(0)
    )
    assert all(erased_box(b, a, 0.5) == (2, 2) for b, a in zip(images, out))


def test_compose_applies_in_order_with_one_generator_and_is_reproducible():
    images = batch((32, 1, 28, 28), np.uint8)
    augment = Compose([RandomCrop(28, padding=2), RandomHorizontalFlip(), RandomErasing()])
    first = augment(images, np.random.default_rng(9))
    assert np.array_equal(first, augment(images, np.random.default_rng(9)))
    assert not np.array_equal(first, augment(images, np.random.default_rng(10)))
    rng = np.random.default_rng(9)
    by_hand = RandomErasing()(RandomHorizontalFlip()(RandomCrop(28, padding=2)(images, rng), rng), rng)
    assert np.array_equal(first, by_hand)
    assert repr(augment).startswith(
        "Compose([RandomCrop(size=(28, 28), padding=(2, 2, 2, 2)), RandomHorizontalFlip"
    )


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (
            lambda: RandomCrop(28, padding=1)(np.zeros((28, 28)), np.random.default_rng()),
            r"expected a batch of images \(N, H, W\) or \(N, C, H, W\), got shape \(28, 28\)",
        ),
        (
            lambda: RandomCrop(30)(np.zeros((2, 28, 28)), np.random.default_rng()),
            r"the crop \(30, 30\) is larger than the padded images \(28, 28\)",
        ),
        (lambda: RandomCrop(28, padding=-1), r"padding must be an int >= 0"),
        (lambda: RandomCrop(0), r"size must be an int >= 1"),
        (lambda: RandomHorizontalFlip(1.5), r"p must be in \[0, 1\], got 1.5"),
        (lambda: RandomErasing(scale=(0.5, 0.1)), r"scale must be \(min, max\)"),
        (lambda: RandomErasing(ratio=(0, 1)), r"ratio must be \(min, max\) with 0 < min"),
        (lambda: RandomErasing(value="random"), r"value must be a finite number"),
        (
            lambda: RandomHorizontalFlip()(np.zeros((2, 3, 3), bool), np.random.default_rng()),
            "expected uint8 or floating-point images, got bool",
        ),
        (
            lambda: RandomHorizontalFlip()(np.zeros((2, 3, 3)), 0),
            "rng must be a numpy.random.Generator, not int",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors(call, complaint):
    with pytest.raises((ValueError, TypeError), match=complaint):
        call()
