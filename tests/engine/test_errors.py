"""Errors: each misuse raises the right exception type, with a message that says what went wrong."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F

from .helpers import leaf, normal


@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("add", operator.add),
        ("sub", operator.sub),
        ("mul", operator.mul),
        ("div", operator.truediv),
        ("pow", operator.pow),
        ("matmul", operator.matmul),
    ],
)
def test_shape_mismatch_raises_value_error_naming_the_op_and_both_shapes(name, op, rng):
    a, b = normal(rng, (2, 3)), normal(rng, (4, 5))
    with pytest.raises(ValueError, match=rf"^{name}: .*\(2, 3\).*\(4, 5\)"):
        op(a, b)


def test_shape_mismatch_with_an_ndarray_operand_names_both_shapes(rng):
    with pytest.raises(ValueError, match=r"add: .*\(3,\).*\(4,\)"):
        normal(rng, (3,)) + np.ones(4)


def test_matmul_of_a_scalar_raises_value_error(rng):
    with pytest.raises(ValueError, match="matmul"):
        normal(rng, (3,)) @ leaf(2.0)


def test_reshape_to_an_incompatible_size_raises_value_error_naming_reshape(rng):
    with pytest.raises(ValueError, match=r"reshape: .*\(2, 3\)"):
        normal(rng, (2, 3)).reshape(4, 2)


@pytest.mark.parametrize("axes", [(0, 0, 1), (0, 1), (0, 1, 3)], ids=["repeated", "too_few", "out_of_range"])
def test_permute_with_bad_axes_raises_value_error(axes, rng):
    with pytest.raises(ValueError, match="permute"):
        normal(rng, (2, 3, 4)).permute(*axes)


def test_transpose_with_one_axis_raises_type_error(rng):
    with pytest.raises(TypeError, match="two axes"):
        normal(rng, (2, 3)).transpose(0)


@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [2, -3, (0, 0)], ids=["too_big", "too_negative", "repeated"])
def test_reduction_over_a_bad_axis_raises_value_error(reduction, axis, rng):
    x = normal(rng, (2, 3))
    with pytest.raises(ValueError, match="axis"):
        getattr(x, reduction)(axis=axis)


def test_backward_on_a_non_scalar_without_a_gradient_raises(rng):
    y = normal(rng, (2, 3)) * 2
    with pytest.raises(RuntimeError, match=r"scalar output.*\(2, 3\)"):
        y.backward()


def test_backward_with_a_wrongly_shaped_gradient_raises(rng):
    y = normal(rng, (2, 3)) * 2
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(6))


def test_backward_on_a_tensor_without_graph_raises(rng):
    with pytest.raises(RuntimeError, match="does not require grad"):
        normal(rng, (1,), requires_grad=False).sum().backward()


def test_second_backward_through_a_released_graph_raises(rng):
    x = normal(rng, (3,))
    y = x.tanh() * 2
    y.sum().backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.sum().backward()


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("relu", lambda v: F.relu(v)),
        ("tanh", lambda v: F.tanh(v)),
        ("sigmoid", lambda v: F.sigmoid(v)),
        ("exp", lambda v: F.exp(v)),
        ("log", lambda v: F.log(v)),
        ("softmax", lambda v: F.softmax(v)),
        ("log_softmax", lambda v: F.log_softmax(v)),
        ("linear", lambda v: F.linear(v, tg.ones(2, 2))),
        ("cross_entropy", lambda v: F.cross_entropy(v, [0])),
        ("dropout", lambda v: F.dropout(v)),
        ("l2_penalty", lambda v: F.l2_penalty([v], 0.1)),
    ],
)
@pytest.mark.parametrize("value", [2.0, np.ones((1, 2))], ids=["float", "ndarray"])
def test_functional_of_a_non_tensor_raises_type_error_naming_the_function(name, call, value):
    with pytest.raises(TypeError, match=rf"^{name}\(\): expected a Tensor, got (float|ndarray)"):
        call(value)


def test_cross_entropy_with_an_out_of_range_class_index_raises(rng):
    z = normal(rng, (3, 4))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 4\).*4"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"class indices.*-1"):
        F.cross_entropy(z, np.array([0, -1, 1]))


@pytest.mark.parametrize(
    "target",
    [np.array([0, 1]), np.array([[0], [1], [2]]), np.zeros((3, 5)), np.zeros(3)],
    ids=["too_few_indices", "column_of_indices", "too_many_classes", "1d_probabilities"],
)
def test_cross_entropy_with_a_wrongly_shaped_target_raises(target, rng):
    with pytest.raises(ValueError, match=r"cross_entropy: .*target must have"):
        F.cross_entropy(normal(rng, (3, 4)), target)


def test_cross_entropy_rejects_bad_logits_shape_reduction_and_target_dtype(rng):
    # (C,) logits are one unbatched row, as in PyTorch: their target is a single class index
    with pytest.raises(
        ValueError, match=r"cross_entropy\(\): target of shape \(1,\) does not fit input \(4,\)"
    ):
        F.cross_entropy(normal(rng, (4,)), np.array([0]))
    with pytest.raises(
        ValueError, match=r"target of shape \(2,\) does not fit input \(2, 3, 4\); expected \(2, 4\)"
    ):
        F.cross_entropy(normal(rng, (2, 3, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(normal(rng, (2, 3)), np.array([0, 1]), reduction="avg")
    with pytest.raises(TypeError, match=r"class indices .* or probabilities"):
        F.cross_entropy(normal(rng, (2, 3)), np.array([True, False]))


def test_linear_with_mismatched_weight_or_bias_raises_value_error(rng):
    with pytest.raises(ValueError, match=r"linear: .*\(3, 4\).*\(5, 3\)"):
        F.linear(normal(rng, (3, 4)), normal(rng, (5, 3)))
    with pytest.raises(ValueError, match=r"bias of shape \(4,\)"):
        F.linear(normal(rng, (3, 4)), normal(rng, (5, 4)), normal(rng, (4,)))


def test_item_of_a_multi_element_tensor_raises(rng):
    with pytest.raises(ValueError, match="one element"):
        normal(rng, (2,)).item()


def test_operand_of_an_unsupported_type_raises_type_error(rng):
    with pytest.raises(TypeError, match="unsupported operand of type str"):
        normal(rng, (2,)) + "a"
    with pytest.raises(TypeError, match="no numeric dtype"):
        tg.tensor([object()])


def test_dropout_rng_of_the_wrong_type_raises_type_error(rng):
    with pytest.raises(TypeError, match="rng must be"):
        F.dropout(normal(rng, (2,)), 0.5, rng="seed")


def test_numpy_conversion_of_a_tensor_that_requires_grad_refuses_like_numpy_method():
    # np.asarray(t) would hand out the array and cut t out of the graph without a word
    x = tg.tensor(np.ones(3), requires_grad=True)
    for convert in (np.asarray, np.array, lambda t: np.exp(t)):
        with pytest.raises(RuntimeError, match=r"requires grad.*detach\(\)"):
            convert(x)
    np.testing.assert_array_equal(np.asarray(x.detach()), np.ones(3))  # a constant converts as before
    np.testing.assert_array_equal(np.asarray(tg.tensor([1.0, 2.0])), [1.0, 2.0])


@pytest.mark.parametrize("data", [["a"], [b"x"], "text", [None]], ids=["str", "bytes", "bare-str", "none"])
def test_tensor_of_non_numeric_data_raises_type_error_as_torch(data):
    with pytest.raises(TypeError, match=r"numeric dtype|cannot make a tensor"):
        tg.tensor(data)


def test_dropout_on_float16_keeps_float16_and_its_mask_scales_the_kept_elements():
    x = tg.tensor(np.ones((64, 64), np.float16), requires_grad=True)
    y = tg.functional.dropout(x, 0.25, rng=0)
    assert y.dtype == np.float16
    kept = y.data != 0
    assert 0.6 < kept.mean() < 0.9
    np.testing.assert_array_equal(y.data[kept], np.float16(1 / 0.75))
    y.sum().backward()
    assert x.grad.dtype == np.float16
    np.testing.assert_array_equal(x.grad.data, y.data)
