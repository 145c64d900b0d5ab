from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorgrad.data import DataLoader, to_float32, train_val_split


def epoch_order(loader: DataLoader) -> np.ndarray:
    """The example indices of one epoch, in order (x holds each example's index)."""
    return np.concatenate([x_batch for x_batch, _ in loader])


def indexed_loader(n: int, **kwargs) -> DataLoader:
    x = np.arange(n)
    return DataLoader(x, x * 10, **kwargs)


# ---- to_float32 ----


def test_to_float32_flattens_and_scales():
    images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    result = to_float32(images)
    assert result.shape == (2, 784)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, images.reshape(2, 784) / 255.0, rtol=1e-6)
    assert result.min() == 0.0 and result.max() == 1.0  # 255 maps to exactly 1
    assert images.dtype == np.uint8  # input untouched


def test_to_float32_accepts_flat_images():
    images = np.full((3, 784), 51, dtype=np.uint8)
    result = to_float32(images)
    assert result.shape == (3, 784)
    np.testing.assert_array_equal(result, np.float32(0.2))


def test_to_float32_of_no_images():
    assert to_float32(np.zeros((0, 28, 28), dtype=np.uint8)).shape == (0, 784)


def test_to_float32_rejects_other_dtypes_and_shapes():
    with pytest.raises(TypeError, match="uint8"):
        to_float32(np.zeros((2, 784), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        to_float32(np.zeros(784, dtype=np.uint8))


# ---- train_val_split ----


@pytest.mark.parametrize(("val_size", "expected_val"), [(25, 25), (0.1, 10), (0.25, 25), (1, 1), (99, 99)])
def test_split_sizes_disjoint_and_complete(val_size, expected_val):
    x = np.arange(100)
    y = x * 10
    (train_x, train_y), (val_x, val_y) = train_val_split(x, y, val_size, np.random.default_rng(0))

    assert len(val_x) == len(val_y) == expected_val
    assert len(train_x) == len(train_y) == 100 - expected_val
    assert np.intersect1d(train_x, val_x).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train_x, val_x])), x)
    np.testing.assert_array_equal(train_y, train_x * 10)  # labels stay with their examples
    np.testing.assert_array_equal(val_y, val_x * 10)


def test_split_is_random_but_reproducible():
    x = np.arange(1000)
    first = train_val_split(x, x, 100, np.random.default_rng(1))[1][0]
    second = train_val_split(x, x, 100, np.random.default_rng(1))[1][0]
    other = train_val_split(x, x, 100, np.random.default_rng(2))[1][0]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, np.arange(100))  # not simply the first examples
    np.testing.assert_array_equal(train_val_split(x, x, 100, 1)[1][0], first)  # an int seed works too


def test_split_keeps_images_shape_and_dtype():
    images = np.zeros((10, 28, 28), dtype=np.uint8)
    labels = np.arange(10, dtype=np.int64)
    (train_x, train_y), (val_x, _) = train_val_split(images, labels, 3, np.random.default_rng(0))
    assert train_x.shape == (7, 28, 28) and val_x.shape == (3, 28, 28)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64


@pytest.mark.parametrize("val_size", [0, 100, -1, 101, 0.0, 1.0, -0.5, 1.5, 0.001, 0.999])
def test_split_rejects_out_of_range_sizes(val_size):
    x = np.arange(100)
    with pytest.raises(ValueError, match=r"out of range|empty"):
        train_val_split(x, x, val_size, np.random.default_rng(0))


def test_split_rejects_bad_arguments():
    x = np.arange(10)
    with pytest.raises(TypeError, match="val_size"):
        train_val_split(x, x, True, np.random.default_rng(0))
    with pytest.raises(ValueError, match="images has 10, labels has 9"):
        train_val_split(x, x[:9], 2, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        train_val_split(x, x, 2, "seed")


# ---- DataLoader ----


def test_every_index_exactly_once_per_epoch():
    loader = indexed_loader(1000, batch_size=64, rng=0)
    for _ in range(3):
        order = epoch_order(loader)
        np.testing.assert_array_equal(np.sort(order), np.arange(1000))


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 200), batch_size=st.integers(1, 64), drop_last=st.booleans(), shuffle=st.booleans())
def test_batch_sizes_and_coverage_property(n, batch_size, drop_last, shuffle):
    loader = indexed_loader(n, batch_size=batch_size, drop_last=drop_last, shuffle=shuffle, rng=0)
    batches = list(loader)
    assert len(batches) == len(loader)
    sizes = [len(x) for x, _ in batches]
    assert all(size == batch_size for size in sizes[:-1])
    seen = np.concatenate([x for x, _ in batches]) if batches else np.array([], dtype=int)
    assert len(np.unique(seen)) == len(seen)
    if drop_last:
        assert len(seen) == (n // batch_size) * batch_size
    else:
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))
    for x_batch, y_batch in batches:
        np.testing.assert_array_equal(y_batch, x_batch * 10)


def test_last_partial_batch_and_drop_last():
    loader = indexed_loader(10, batch_size=4, rng=0)
    assert len(loader) == 3
    assert [len(x) for x, _ in loader] == [4, 4, 2]

    dropping = indexed_loader(10, batch_size=4, rng=0, drop_last=True)
    assert len(dropping) == 2
    assert [len(x) for x, _ in dropping] == [4, 4]

    exact = indexed_loader(12, batch_size=4, drop_last=True)
    assert len(exact) == 3


def test_without_shuffle_order_is_sequential():
    loader = indexed_loader(10, batch_size=3, shuffle=False)
    np.testing.assert_array_equal(epoch_order(loader), np.arange(10))
    np.testing.assert_array_equal(epoch_order(loader), np.arange(10))


def test_same_seed_same_order_and_new_order_each_epoch():
    first, second = indexed_loader(500, rng=42), indexed_loader(500, rng=42)
    epoch1, epoch2 = epoch_order(first), epoch_order(first)
    np.testing.assert_array_equal(epoch1, epoch_order(second))
    np.testing.assert_array_equal(epoch2, epoch_order(second))
    assert not np.array_equal(epoch1, epoch2)
    assert not np.array_equal(epoch1, epoch_order(indexed_loader(500, rng=43)))


def test_restoring_rng_state_reproduces_the_next_epoch():
    loader = indexed_loader(300, batch_size=32, rng=7)
    epoch_order(loader)
    checkpoint = loader.rng.bit_generator.state  # saved between epochs, as a training checkpoint would
    expected_next = [epoch_order(loader), epoch_order(loader)]

    resumed = indexed_loader(300, batch_size=32, rng=123)
    resumed.rng.bit_generator.state = checkpoint
    np.testing.assert_array_equal(epoch_order(resumed), expected_next[0])
    np.testing.assert_array_equal(epoch_order(resumed), expected_next[1])


def test_permutation_is_drawn_when_the_epoch_starts():
    loader = indexed_loader(50, batch_size=10, rng=0)
    before = loader.rng.bit_generator.state
    iterator = iter(loader)
    assert loader.rng.bit_generator.state != before
    assert len(next(iterator)[0]) == 10


def test_uses_the_given_generator():
    generator = np.random.default_rng(5)
    loader = indexed_loader(10, rng=generator)
    assert loader.rng is generator
    assert isinstance(indexed_loader(10).rng, np.random.Generator)


def test_keeps_dtypes_and_trailing_shape():
    x = np.zeros((20, 28, 28), dtype=np.uint8)
    y = np.arange(20, dtype=np.int64)
    x_batch, y_batch = next(iter(DataLoader(x, y, batch_size=8, rng=0)))
    assert x_batch.dtype == np.uint8 and x_batch.shape == (8, 28, 28)
    assert y_batch.dtype == np.int64 and y_batch.shape == (8,)


def test_rejects_mismatched_lengths_and_bad_batch_size():
    x = np.arange(10)
    with pytest.raises(ValueError, match="x has 10, y has 9"):
        DataLoader(x, x[:9])
    for batch_size in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(x, x, batch_size=batch_size)
    with pytest.raises(TypeError, match="rng"):
        DataLoader(x, x, rng=1.5)
    with pytest.raises(ValueError, match="scalars"):
        DataLoader(np.float32(1.0), x)


def test_empty_data_gives_no_batches():
    loader = DataLoader(np.zeros((0, 3)), np.zeros(0), batch_size=4, rng=0)
    assert len(loader) == 0
    assert list(loader) == []
