"""Forward values of every op against NumPy."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import tensorgrad as tg

from .helpers import distinct, leaf, normal, positive

BINARY = {
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "div": (operator.truediv, np.divide),
    "pow": (operator.pow, np.power),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_of_two_tensors_matches_numpy(name, rng):
    op, ref = BINARY[name]
    a, b = positive(rng, (3, 4)), normal(rng, (3, 4))
    out = op(a, b)
    assert isinstance(out, tg.Tensor)
    np.testing.assert_allclose(out.data, ref(a.data, b.data), rtol=1e-15)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_with_python_scalar_on_either_side_matches_numpy(name, rng):
    op, ref = BINARY[name]
    x = positive(rng, (2, 3))
    np.testing.assert_allclose(op(x, 1.5).data, ref(x.data, 1.5), rtol=1e-15)
    np.testing.assert_allclose(op(1.5, x).data, ref(1.5, x.data), rtol=1e-15)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_with_ndarray_on_either_side_returns_a_tensor(name, rng):
    op, ref = BINARY[name]
    x, arr = positive(rng, (2, 3)), rng.uniform(0.5, 2.0, (2, 3))
    left, right = op(x, arr), op(arr, x)
    assert isinstance(left, tg.Tensor) and isinstance(right, tg.Tensor)
    np.testing.assert_allclose(left.data, ref(x.data, arr), rtol=1e-15)
    np.testing.assert_allclose(right.data, ref(arr, x.data), rtol=1e-15)


def test_scalar_base_power_of_tensor_is_elementwise_exponential(rng):
    x = normal(rng, (5,))
    np.testing.assert_allclose((2**x).data, 2.0**x.data, rtol=1e-15)


def test_neg_and_unary_plus_match_numpy(rng):
    x = normal(rng, (2, 3))
    np.testing.assert_array_equal((-x).data, -x.data)
    assert +x is x


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((2, 1, 3, 4), (3, 4, 2)),
]


@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES)
def test_matmul_matches_numpy_for_every_operand_rank(shape_a, shape_b, rng):
    a, b = normal(rng, shape_a), normal(rng, shape_b)
    out = a @ b
    expected = a.data @ b.data
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)


def test_matmul_of_two_vectors_is_a_0d_tensor(rng):
    a, b = normal(rng, (4,)), normal(rng, (4,))
    out = a @ b
    assert isinstance(out.data, np.ndarray) and out.shape == ()
    np.testing.assert_allclose(out.item(), np.dot(a.data, b.data), rtol=1e-14)


def test_matmul_with_ndarray_on_either_side(rng):
    x, w = normal(rng, (3, 4)), rng.standard_normal((4, 2))
    np.testing.assert_allclose((x @ w).data, x.data @ w, rtol=1e-14)
    np.testing.assert_allclose((w.T @ x.T).data, w.T @ x.data.T, rtol=1e-14)


AXES = [None, 0, 1, -1, -2, (0, 2), (-1, 0), (0, 1, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
def test_reduction_matches_numpy_for_every_axis_form(reduction, axis, keepdims, rng):
    x = normal(rng, (2, 3, 4))
    out = getattr(x, reduction)(axis=axis, keepdims=keepdims)
    expected = getattr(np, reduction)(x.data, axis=axis, keepdims=keepdims)
    assert isinstance(out.data, np.ndarray)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14)


def test_reductions_accept_positional_axis(rng):
    x = normal(rng, (2, 3))
    np.testing.assert_allclose(x.sum(1).data, x.data.sum(1))
    np.testing.assert_allclose(x.mean(0).data, x.data.mean(0))
    np.testing.assert_allclose(x.max(-1).data, x.data.max(-1))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp", "argmax", "argmin", "var", "std",
                                  "prod", "softmax", "log_softmax"])  # fmt: skip
def test_pytorchs_dim_and_numpys_axis_must_agree_when_both_are_given(name, rng):
    x = distinct(rng, (2, 3, 4))
    method = getattr(x, name)
    np.testing.assert_array_equal(method(dim=1, axis=1).data, method(dim=1).data)
    np.testing.assert_array_equal(method(axis=1).data, method(dim=1).data)
    with pytest.raises(TypeError, match=rf"^{name}\(\) got dim=0 and axis=1: give one of them$"):
        method(dim=0, axis=1)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "amax", "amin", "logsumexp", "var", "std"])
def test_reductions_take_a_list_of_dims_as_pytorch_does(name, rng):
    x = normal(rng, (2, 3, 4))
    method = getattr(x, name)
    expected = method(dim=(0, 2)).data  # a tuple of axes: checked against NumPy above
    for result in (method(dim=[0, 2]), method(axis=[0, 2]), method(dim=[0, 2], axis=(0, 2))):
        np.testing.assert_array_equal(result.data, expected)


def test_argmax_matches_numpy_and_carries_no_graph(rng):
    x = distinct(rng, (3, 4))
    out = x.argmax(axis=1)
    np.testing.assert_array_equal(out.data, x.data.argmax(axis=1))
    assert out.dtype == np.int64 and not out.requires_grad
    assert x.argmax().item() == int(x.data.argmax())


@pytest.mark.parametrize(
    ("call", "expected_shape"),
    [
        (lambda x: x.reshape(4, 6), (4, 6)),
        (lambda x: x.reshape((4, 6)), (4, 6)),
        (lambda x: x.reshape([3, 8]), (3, 8)),
        (lambda x: x.reshape(-1), (24,)),
        (lambda x: x.reshape(2, -1, 3), (2, 4, 3)),
        (lambda x: x.view(6, 4), (6, 4)),
        (lambda x: x.flatten(), (24,)),
        (lambda x: x.flatten(1), (2, 12)),
    ],
    ids=["ints", "tuple", "list", "minus_one", "inner_minus_one", "view", "flatten", "flatten_from_1"],
)
def test_reshape_forms_match_numpy(call, expected_shape, rng):
    x = normal(rng, (2, 3, 4))
    out = call(x)
    assert out.shape == expected_shape
    np.testing.assert_array_equal(out.data, x.data.reshape(expected_shape))


@pytest.mark.parametrize(
    ("call", "reference"),
    [
        (lambda x: x.transpose(), lambda a: a.transpose()),
        (lambda x: x.T, lambda a: a.T),
        (lambda x: x.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2)),
        (lambda x: x.transpose(1, -1), lambda a: np.swapaxes(a, 1, -1)),
        (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
        (lambda x: x.permute((1, 2, 0)), lambda a: a.transpose(1, 2, 0)),
        (lambda x: x.permute(-1, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ],
    ids=[
        "transpose_reverses",
        "T",
        "transpose_swaps_two",
        "transpose_negative",
        "permute",
        "permute_tuple",
        "permute_negative",
    ],
)
def test_transpose_and_permute_match_numpy(call, reference, rng):
    x = normal(rng, (2, 3, 4))
    expected = reference(x.data)
    out = call(x)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)


def test_transpose_without_arguments_reverses_all_axes_like_numpy_not_torch(rng):
    x = normal(rng, (2, 3, 4))
    assert x.transpose().shape == (4, 3, 2)
    assert x.transpose(0, 1).shape == (3, 2, 4)


MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])

INDICES = {
    "int": lambda: 1,
    "negative_int": lambda: -1,
    "slice": lambda: slice(1, 3),
    "step_slice": lambda: (slice(None), slice(None, None, 2)),
    "two_ints": lambda: (1, 2),
    "none": lambda: (None, 1),
    "ellipsis": lambda: (Ellipsis, 1),
    "ellipsis_none": lambda: (Ellipsis, None, slice(0, 2)),
    "repeated_rows": lambda: [0, 0, 2],
    "repeated_array_2d": lambda: np.array([[1, 1], [0, 1]]),
    "repeated_pairs": lambda: ([0, 0, 1], [2, 2, 2]),
    "slice_and_repeated": lambda: (slice(None), [1, 1, 0]),
    "bool_mask": lambda: MASK,
    "bool_row_mask": lambda: np.array([True, False, True]),
    "tensor_index": lambda: tg.tensor([0, 0, 2]),
    "tensor_mask": lambda: tg.tensor(MASK),
    "tuple_with_tensor": lambda: (slice(None), tg.tensor([3, 3])),
}


def _numpy_index(index):
    if isinstance(index, tuple):
        return tuple(_numpy_index(part) for part in index)
    return index.data if isinstance(index, tg.Tensor) else index


@pytest.mark.parametrize("kind", list(INDICES))
def test_getitem_matches_numpy(kind, rng):
    x = normal(rng, (3, 4))
    index = INDICES[kind]()
    out = x[index]
    expected = np.asarray(x.data[_numpy_index(index)])
    assert isinstance(out.data, np.ndarray)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)


UNARY = {
    "exp": (lambda x: x.exp(), np.exp),
    "log": (lambda x: x.log(), np.log),
    "relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0)),
    "tanh": (lambda x: x.tanh(), np.tanh),
    "sigmoid": (lambda x: x.sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_elementwise_function_matches_numpy(name, rng):
    call, ref = UNARY[name]
    data = rng.uniform(0.1, 3.0, (3, 4)) if name == "log" else rng.standard_normal((3, 4))
    x = leaf(data)
    np.testing.assert_allclose(call(x).data, ref(data), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [0.5, 2, -1, 3.7, -0.25])
def test_a_scalar_power_is_numpys_python_scalar_power_in_the_bases_dtype(exponent, dtype, rng):
    data = rng.uniform(0.0, 3.0, (5, 7)).astype(dtype)
    got = tg.tensor(data) ** exponent
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.data, data**exponent)  # NumPy's sqrt, square, reciprocal fast paths
    np.testing.assert_allclose(
        got.data, np.power(data.astype(np.float64), exponent), rtol=1e-6 if dtype == np.float32 else 1e-14
    )
    integers = tg.tensor(np.arange(5)) ** 2  # an integer base keeps NumPy's array power
    assert integers.dtype == np.arange(5).dtype and integers.tolist() == [0, 1, 4, 9, 16]


def test_relu_is_zero_at_zero_and_for_negatives():
    x = leaf([-2.0, -0.0, 0.0, 3.0])
    np.testing.assert_array_equal(x.relu().data, [0.0, 0.0, 0.0, 3.0])


@pytest.mark.parametrize("call", [lambda x: x.to(np.float64), lambda x: x.double()], ids=["to", "double"])
def test_cast_to_float64_keeps_values(call, rng):
    x = normal(rng, (2, 3), dtype=np.float32)
    out = call(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, x.data.astype(np.float64))


def test_float_casts_float64_to_float32(rng):
    x = normal(rng, (2, 3))
    out = x.float()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, x.data.astype(np.float32))


def test_cast_to_own_dtype_returns_the_same_tensor(rng):
    x = normal(rng, (2,))
    assert x.to(np.float64) is x and x.double() is x


def test_comparisons_are_elementwise_boolean_tensors_without_graph():
    x = leaf([1.0, 2.0, 3.0])
    for result, expected in [
        (x == 2.0, [False, True, False]),
        (x != 2.0, [True, False, True]),
        (x < 2.0, [True, False, False]),
        (x <= 2.0, [True, True, False]),
        (x > 2.0, [False, False, True]),
        (x >= 2.0, [False, True, True]),
        (x > leaf([0.0, 5.0, 3.0]), [True, False, False]),
    ]:
        assert isinstance(result, tg.Tensor) and not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_tensor_conversions_item_tolist_numpy_len():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert len(x) == 2 and x.numel() == 4 and x.size == 4 and x.ndim == 2
    assert x.numpy() is x.data
    assert tg.tensor([2.5]).item() == 2.5
    assert float(tg.tensor(2.5)) == 2.5 and int(tg.tensor(3)) == 3
    assert np.array_equal(np.asarray(x), x.data)


def test_factories_make_float32_tensors_of_the_requested_shape():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).dtype == np.float32
    np.testing.assert_array_equal(tg.zeros(2, 3).data, np.zeros((2, 3)))
    np.testing.assert_array_equal(tg.ones((3,)).data, np.ones(3))
    assert tg.ones(2, dtype=np.float64).dtype == np.float64
    assert tg.randn(4, 5).shape == (4, 5) and tg.randn(4, 5).dtype == np.float32
    assert tg.zeros(2, requires_grad=True).requires_grad


def test_randn_is_reproducible_with_a_seed():
    np.testing.assert_array_equal(tg.randn(3, 3, rng=7).data, tg.randn(3, 3, rng=7).data)
    tg.manual_seed(3)
    first = tg.randn(5).data
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.randn(5).data, first)


def test_repr_shows_values_dtype_and_graph_state():
    assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(tg.tensor(np.array([1.0]))) == "tensor([1.], dtype=float64)"
    assert repr(tg.tensor([1.0], requires_grad=True) * 2) == "tensor([2.], grad_fn=<mul>)"
