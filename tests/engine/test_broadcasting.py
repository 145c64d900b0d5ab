"""Broadcasting, property-based: random broadcastable shape pairs (up to 4-D, sides up to 3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import tensorgrad as tg

from .helpers import BINARY, assert_gradcheck, leaf, unbroadcast

SETTINGS = settings(max_examples=30, deadline=None)

shape_pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=3)
seeds = st.integers(0, 2**32 - 1)


def _operands(seed, shape_a, shape_b):
    rng = np.random.default_rng(seed)
    # a positive base for pow (and a safe divisor for div: b is kept away from zero)
    a = leaf(rng.uniform(0.5, 2.0, shape_a))
    b = leaf(rng.choice([-1.0, 1.0], size=shape_b) * rng.uniform(0.5, 2.0, shape_b))
    return a, b


def _local_derivatives(name, a, b):
    """NumPy reference for d(op)/da and d(op)/db, element-wise at the broadcast shape."""
    if name == "add":
        return np.ones_like(a + b), np.ones_like(a + b)
    if name == "sub":
        return np.ones_like(a + b), -np.ones_like(a + b)
    if name == "mul":
        return b + 0 * a, a + 0 * b
    if name == "div":
        return 1 / b + 0 * a, -a / b**2
    return b * a ** (b - 1), a**b * np.log(a)


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=shape_pairs, seed=seeds)
def test_broadcast_binary_op_matches_numpy_and_passes_gradcheck(name, shapes, seed):
    (shape_a, shape_b), out_shape = shapes
    a, b = _operands(seed, shape_a, shape_b)
    op = BINARY[name]
    out = op(a, b)
    assert out.shape == out_shape
    np.testing.assert_allclose(out.data, op(a.data, b.data), rtol=1e-14)
    assert_gradcheck(op, a, b)


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=shape_pairs, seed=seeds)
def test_broadcast_gradients_take_each_inputs_shape_and_sum_over_broadcast_axes(name, shapes, seed):
    (shape_a, shape_b), out_shape = shapes
    a, b = _operands(seed, shape_a, shape_b)
    g = np.random.default_rng(seed + 1).standard_normal(out_shape)
    BINARY[name](a, b).backward(g)
    da, db = _local_derivatives(name, a.data, b.data)
    for x, local in ((a, da), (b, db)):
        assert isinstance(x.grad, tg.Tensor)
        assert x.grad.shape == x.shape and x.grad.dtype == np.float64
        np.testing.assert_allclose(x.grad.data, unbroadcast(g * local, x.shape), rtol=1e-12, atol=1e-14)


@SETTINGS
@given(shapes=shape_pairs, seed=seeds)
def test_broadcast_leaf_gradients_are_separate_writable_arrays(shapes, seed):
    (shape_a, shape_b), _ = shapes
    a, b = _operands(seed, shape_a, shape_b)
    (a + b).sum().backward()
    assert a.grad.data.flags.writeable and b.grad.data.flags.writeable
    assert not np.shares_memory(a.grad.data, b.grad.data)
    np.testing.assert_array_equal(
        a.grad.data, unbroadcast(np.ones(np.broadcast_shapes(shape_a, shape_b)), shape_a)
    )


@st.composite
def shape_and_axis(draw):
    """A shape up to 4-D and a valid axis for it: None, an int (maybe negative), or a tuple of distinct axes."""
    shape = draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    ints = st.integers(-ndim, ndim - 1)
    tuples = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
        lambda axes: st.tuples(*[st.sampled_from([ax, ax - ndim]) for ax in axes])
    )
    axis = draw(st.one_of(st.none(), ints, tuples))
    return shape, axis


@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
@SETTINGS
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_reduction_over_random_axes_matches_numpy_and_passes_gradcheck(reduction, case, keepdims, seed):
    shape, axis = case
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    x = leaf((rng.permutation(size) * 0.25 - 1.0).reshape(shape))  # distinct values: a unique max per slice
    out = getattr(x, reduction)(axis=axis, keepdims=keepdims)
    expected = getattr(np, reduction)(x.data, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14)
    assert_gradcheck(lambda x: getattr(x, reduction)(axis=axis, keepdims=keepdims), x)
    out.sum().backward()
    assert x.grad.shape == shape


@SETTINGS
@given(shapes=shape_pairs, seed=seeds)
def test_broadcast_then_reduce_chain_passes_gradcheck(shapes, seed):
    (shape_a, shape_b), _ = shapes
    a, b = _operands(seed, shape_a, shape_b)
    assert_gradcheck(lambda a, b: (a * b - a / b).sum(axis=0 if (a * b).ndim else None) ** 2, a, b)
