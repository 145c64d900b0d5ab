"""Gradients of every op: tg.gradcheck in float64, plus exact values where the rule is a convention."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import tensorgrad as tg

from .helpers import BINARY, assert_gradcheck, away_from_zero, distinct, leaf, normal, positive
from .test_ops_values import AXES, INDICES, MATMUL_SHAPES


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_gradients_for_both_operands_pass_gradcheck(name, rng):
    # a positive base keeps pow's d/db = a**b * log(a) defined; b away from zero keeps division stable
    a, b = positive(rng, (2, 3)), away_from_zero(rng, (2, 3))
    if name == "div":
        a, b = normal(rng, (2, 3)), positive(rng, (2, 3))
    assert_gradcheck(BINARY[name], a, b)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_gradient_with_a_constant_on_either_side_passes_gradcheck(name, rng):
    op = BINARY[name]
    x = positive(rng, (2, 3))
    assert_gradcheck(lambda x: op(x, 1.7), x)
    assert_gradcheck(lambda x: op(1.7, x), x)
    assert_gradcheck(lambda x: op(x, np.full((2, 3), 0.8)), x)


def test_tensor_power_scalar_gradient_is_n_x_to_the_n_minus_1(rng):
    x = normal(rng, (4,))
    (x**3).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2, rtol=1e-14)
    assert_gradcheck(lambda x: x**3, x)
    assert_gradcheck(lambda x: x**-1.5, positive(rng, (4,)))


def test_scalar_power_tensor_gradient_is_log_base_times_power(rng):
    x = normal(rng, (4,))
    (2**x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.log(2.0) * 2.0**x.data, rtol=1e-14)
    assert_gradcheck(lambda x: 2**x, normal(rng, (2, 3)))


def test_tensor_power_tensor_gradients_for_base_and_exponent(rng):
    a, b = positive(rng, (3,)), normal(rng, (3,))
    (a**b).sum().backward()
    np.testing.assert_allclose(a.grad.data, b.data * a.data ** (b.data - 1), rtol=1e-13)
    np.testing.assert_allclose(b.grad.data, a.data**b.data * np.log(a.data), rtol=1e-13)


def test_neg_gradient_is_minus_one(rng):
    x = normal(rng, (2, 3))
    (-x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, -np.ones((2, 3)))
    assert_gradcheck(lambda x: -x, x)


@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES)
def test_matmul_gradients_pass_gradcheck_for_every_operand_rank(shape_a, shape_b, rng):
    assert_gradcheck(operator.matmul, normal(rng, shape_a), normal(rng, shape_b))


def test_matmul_gradients_have_the_textbook_form(rng):
    a, b = normal(rng, (3, 4)), normal(rng, (4, 5))
    g = rng.standard_normal((3, 5))
    (a @ b).backward(g)
    np.testing.assert_allclose(a.grad.data, g @ b.data.T, rtol=1e-13)
    np.testing.assert_allclose(b.grad.data, a.data.T @ g, rtol=1e-13)


def test_broadcast_batch_matmul_sums_the_weight_gradient_over_the_batch(rng):
    a, w = normal(rng, (2, 3, 4)), normal(rng, (4, 5))
    g = rng.standard_normal((2, 3, 5))
    (a @ w).backward(g)
    assert w.grad.shape == (4, 5)
    np.testing.assert_allclose(w.grad.data, sum(a.data[i].T @ g[i] for i in range(2)), rtol=1e-13)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
def test_reduction_gradient_passes_gradcheck_for_every_axis_form(reduction, axis, keepdims, rng):
    x = distinct(rng, (2, 3, 4))
    assert_gradcheck(lambda x: getattr(x, reduction)(axis=axis, keepdims=keepdims), x)


def test_sum_and_mean_gradients_are_ones_and_one_over_count(rng):
    x = normal(rng, (2, 3, 4))
    x.sum(axis=(0, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3, 4)))
    x.grad = None
    x.mean(axis=-1).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 3, 4), 0.25))
    x.grad = None
    x.mean().backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 3, 4), 1 / 24))


def test_max_gradient_is_shared_equally_among_tied_maxima_along_an_axis():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 5.0], [0.0, 4.0, 1.0]])
    x.max(axis=1).backward(np.array([1.0, 3.0, 2.0, 1.0]))
    expected = [[0.0, 0.5, 0.5], [1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-15)


def test_max_gradient_is_shared_among_ties_over_all_axes():
    x = leaf([[5.0, 1.0], [5.0, 5.0]])
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [[1 / 3, 0.0], [1 / 3, 1 / 3]], rtol=1e-15)


def test_max_gradient_with_ties_and_keepdims_over_a_tuple_of_axes():
    x = leaf([[[2.0, 2.0], [1.0, 0.0]], [[7.0, 7.0], [7.0, 7.0]]])
    x.max(axis=(1, 2), keepdims=True).backward(np.array([[[4.0]], [[8.0]]]))
    np.testing.assert_allclose(x.grad.data, [[[2.0, 2.0], [0.0, 0.0]], [[2.0, 2.0], [2.0, 2.0]]], rtol=1e-15)


def test_max_gradient_with_ties_along_a_negative_axis():
    x = leaf([[1.0, 1.0], [0.0, 3.0]])
    x.max(axis=-2).backward(np.array([1.0, 1.0]))
    np.testing.assert_allclose(x.grad.data, [[1.0, 0.0], [0.0, 1.0]])
    x.grad = None
    x.max(axis=-1).backward(np.array([1.0, 1.0]))
    np.testing.assert_allclose(x.grad.data, [[0.5, 0.5], [0.0, 1.0]])


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.reshape(4, 6),
        lambda x: x.reshape((3, -1)),
        lambda x: x.reshape(-1),
        lambda x: x.flatten(1),
        lambda x: x.transpose(),
        lambda x: x.transpose(0, 2),
        lambda x: x.transpose(-1, -2),
        lambda x: x.permute(2, 0, 1),
        lambda x: x.permute(-1, 0, 1),
        lambda x: x.T,
    ],
    ids=[
        "reshape_ints",
        "reshape_tuple",
        "reshape_flat",
        "flatten",
        "transpose",
        "transpose_swap",
        "transpose_negative",
        "permute",
        "permute_negative",
        "T",
    ],
)
def test_shape_op_gradient_passes_gradcheck(call, rng):
    assert_gradcheck(call, normal(rng, (2, 3, 4)))


def test_permute_gradient_is_the_inverse_permutation(rng):
    x = normal(rng, (2, 3, 4))
    g = rng.standard_normal((4, 2, 3))
    x.permute(2, 0, 1).backward(g)
    np.testing.assert_array_equal(x.grad.data, g.transpose(1, 2, 0))


@pytest.mark.parametrize("kind", list(INDICES))
def test_getitem_gradient_passes_gradcheck(kind, rng):
    index = INDICES[kind]()
    assert_gradcheck(lambda x: x[index], normal(rng, (3, 4)))


def test_getitem_with_repeated_integer_indices_adds_their_gradients():
    x = leaf([10.0, 20.0, 30.0, 40.0])
    x[[0, 0, 2, 0, 3]].backward(np.array([1.0, 2.0, 4.0, 8.0, 16.0]))
    np.testing.assert_array_equal(x.grad.data, [11.0, 0.0, 4.0, 16.0])


def test_getitem_with_repeated_index_pairs_and_a_tensor_index_adds_gradients():
    x = leaf(np.zeros((2, 3)))
    x[[0, 0, 1], [2, 2, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.0, 2.0], [0.0, 0.0, 1.0]])
    x.grad = None
    x[:, tg.tensor([1, 1, 1, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 3.0, 0.0], [1.0, 3.0, 0.0]])


def test_getitem_with_a_boolean_mask_routes_gradient_to_selected_elements():
    x = leaf([[1.0, -2.0], [-3.0, 4.0]])
    mask = x > 0
    x[mask].backward(np.array([5.0, 7.0]))
    np.testing.assert_array_equal(x.grad.data, [[5.0, 0.0], [0.0, 7.0]])


def test_getitem_with_basic_index_puts_gradient_in_place():
    x = leaf(np.zeros((3, 4)))
    x[1:, ::2].sum().backward()
    expected = np.zeros((3, 4))
    expected[1:, ::2] = 1
    np.testing.assert_array_equal(x.grad.data, expected)


@pytest.mark.parametrize(
    ("call", "make_input"),
    [
        (lambda x: x.exp(), normal),
        (lambda x: x.log(), positive),
        (lambda x: x.relu(), away_from_zero),
        (lambda x: x.tanh(), normal),
        (lambda x: x.sigmoid(), normal),
    ],
    ids=["exp", "log", "relu", "tanh", "sigmoid"],
)
def test_elementwise_function_gradient_passes_gradcheck(call, make_input, rng):
    assert_gradcheck(call, make_input(rng, (3, 4)))


def test_elementwise_function_gradients_have_closed_forms(rng):
    data = rng.uniform(0.5, 2.0, (5,))
    for call, derivative in [
        (lambda x: x.exp(), np.exp(data)),
        (lambda x: x.log(), 1 / data),
        (lambda x: x.tanh(), 1 - np.tanh(data) ** 2),
        (lambda x: x.sigmoid(), np.exp(-data) / (1 + np.exp(-data)) ** 2),
    ]:
        x = leaf(data)
        call(x).sum().backward()
        np.testing.assert_allclose(x.grad.data, derivative, rtol=1e-13)


def test_relu_gradient_is_zero_at_exactly_zero():
    x = leaf([-1.0, 0.0, -0.0, 2.0])
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("call", [lambda x: x.to(np.float64), lambda x: x.double()], ids=["to", "double"])
def test_cast_up_sends_the_gradient_back_in_the_original_float32(call):
    x = leaf([1.0, 2.0, 3.0], dtype=np.float32)
    y = call(x)
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, np.array([2.0, 4.0, 6.0], dtype=np.float32))


def test_cast_down_sends_the_gradient_back_in_the_original_float64():
    x = leaf([1.0, 2.0, 3.0])
    y = x.float()
    assert y.dtype == np.float32
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0, 3.0])


def test_cast_round_trip_gradient_passes_gradcheck(rng):
    # float64 -> float32 -> float64 rounds the values, but the identity's derivative survives
    assert_gradcheck(lambda x: x.float().double() * 2, normal(rng, (3,)), eps=1e-2, atol=1e-4)


def test_cast_to_an_integer_dtype_leaves_the_graph():
    x = leaf([1.5, 2.5])
    y = x.to(np.int64)
    assert y.dtype == np.int64 and not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.data, [1, 2])


def test_vector_dot_product_gradient_is_the_other_vector(rng):
    a, b = normal(rng, (4,)), normal(rng, (4,))
    (a @ b).backward()
    np.testing.assert_array_equal(a.grad.data, b.data)
    np.testing.assert_array_equal(b.grad.data, a.data)


def test_power_gradient_for_exponent_zero_is_zero_even_at_a_zero_base():
    x = leaf([0.0, 2.0, -3.0])
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])
    x.grad = None
    e = leaf([0.0, 1.0, 2.0])
    (x**e).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, -6.0])
    np.testing.assert_array_equal(e.grad.data[:1], [0.0])  # d(0**0)/de: log(0) contributes nothing


def test_power_gradient_at_a_zero_base_for_positive_integer_exponents():
    x = leaf([0.0, 0.0])
    (x**2 + x**1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
