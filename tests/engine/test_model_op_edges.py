"""The kinks, ties, zeros, empties and odd arguments of the new ops, with PyTorch's answers pinned."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tensorgrad as tg
import tensorgrad.functional as F

from .helpers import assert_gradcheck, leaf, normal, unbroadcast


def grad_of(fn, values):
    x = leaf(values)
    fn(x).sum().backward()
    return x.grad.data


# ----- kinks and ties


def test_maximum_and_minimum_of_equal_inputs_split_the_gradient():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 0.0, 3.0])
    tg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(b.grad.data, [0.5, 0.0, 0.5])
    a.grad = b.grad = None
    tg.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1.0, 0.5])


def test_maximum_of_a_tensor_with_itself_has_the_full_gradient():
    x = leaf([1.0, -2.0])
    tg.maximum(x, x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_abs_gradient_at_zero_is_zero():
    np.testing.assert_array_equal(grad_of(lambda x: x.abs(), [-2.0, 0.0, 3.0]), [-1.0, 0.0, 1.0])


def test_clamp_passes_the_gradient_at_its_bounds():
    np.testing.assert_array_equal(
        grad_of(lambda x: x.clamp(0, 2), [-1.0, 0.0, 1.0, 2.0, 3.0]), [0, 1, 1, 1, 0]
    )
    np.testing.assert_array_equal(grad_of(lambda x: x.clamp(max=1.0), [1.0, 1.5]), [1, 0])


def test_clamp_with_min_above_max_gives_max_everywhere():
    np.testing.assert_array_equal(tg.tensor([1.0, 5.0]).clamp(3, 2).data, [2.0, 2.0])


def test_leaky_relu_gradient_at_zero_is_the_negative_slope():
    np.testing.assert_allclose(grad_of(lambda x: F.leaky_relu(x, 0.1), [-1.0, 0.0, 2.0]), [0.1, 0.1, 1.0])


def test_min_gradient_is_shared_among_tied_minima():
    np.testing.assert_allclose(grad_of(lambda x: x.min(), [1.0, 1.0, 3.0]), [0.5, 0.5, 0.0])


def test_inf_norm_gradient_is_shared_among_tied_magnitudes_with_their_signs():
    np.testing.assert_allclose(grad_of(lambda x: x.norm(math.inf), [2.0, -2.0, 1.0]), [0.5, -0.5, 0.0])


# ----- zeros


def test_sqrt_gradient_at_zero_is_infinite_as_in_pytorch():
    grad = grad_of(lambda x: x.sqrt(), [0.0, 4.0])
    assert grad[0] == np.inf and grad[1] == 0.25


def test_norm_of_zeros_has_a_zero_gradient():
    np.testing.assert_array_equal(grad_of(lambda x: x.norm(), [0.0, 0.0]), [0.0, 0.0])
    np.testing.assert_array_equal(grad_of(lambda x: x.norm(3), [0.0, 0.0]), [0.0, 0.0])


def test_norm_gradient_at_a_zero_element_of_a_nonzero_vector_is_zero():
    grad = grad_of(lambda x: x.norm(3), [0.0, 1.0, -2.0])
    expected = np.sign([0.0, 1.0, -2.0]) * np.array([0.0, 1.0, 4.0]) / 9.0 ** (2 / 3)
    np.testing.assert_allclose(grad, expected, rtol=1e-14)


def test_std_of_a_constant_slice_has_a_zero_gradient_not_nan():
    np.testing.assert_array_equal(grad_of(lambda x: x.std(), [1.5, 1.5, 1.5]), [0.0, 0.0, 0.0])


def test_norm_zero_counts_nonzero_elements():
    assert tg.tensor([0.0, 2.0, -1.0]).norm(0).item() == 2.0


def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    x = leaf([[0.0, 2.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
    x.prod(1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [6.0, 3.0, 2.0]])
    assert_gradcheck(lambda x: x.prod(1), leaf([[0.0, 2.0, 3.0], [0.5, 0.0, 1.0]]))


def test_prod_of_an_empty_axis_is_one():
    np.testing.assert_array_equal(tg.zeros(2, 0).prod(1).data, [1.0, 1.0])


def test_var_with_too_few_elements_for_the_correction_is_nan_as_in_pytorch():
    assert np.isnan(tg.tensor([3.0]).var().item())
    assert tg.tensor([3.0]).var(correction=0).item() == 0.0


def test_var_unbiased_flag_and_correction_agree():
    x = tg.tensor(np.arange(5.0))
    assert x.var(False).item() == pytest.approx(2.0)
    assert x.var(unbiased=True).item() == pytest.approx(2.5)
    assert x.std(correction=0).item() == pytest.approx(math.sqrt(2.0))
    with pytest.raises(TypeError, match="either unbiased or correction"):
        x.var(unbiased=True, correction=1)


def test_logsumexp_is_finite_for_huge_inputs_and_minus_inf_for_all_minus_inf():
    x = tg.tensor(np.array([1000.0, 1000.0]))
    assert x.logsumexp(0).item() == pytest.approx(1000.0 + math.log(2.0))
    assert tg.tensor(np.array([-np.inf, -np.inf])).logsumexp(0).item() == -np.inf


def test_erf_matches_math_erf_to_the_last_bits_over_the_real_line():
    values = np.concatenate([np.linspace(-7, 7, 2001), [0.0, 0.5, 4.0, 30.0, -np.inf, np.inf]])
    expected = np.array([math.erf(v) for v in values])
    np.testing.assert_allclose(tg.tensor(values).erf().data, expected, rtol=5e-16, atol=3e-16)
    assert np.isnan(tg.tensor(np.array([np.nan])).erf().item())


# ----- joining and splitting: empties and negative dims


def test_split_into_sizes_with_empty_pieces():
    pieces = tg.zeros(5, 2).split([0, 5, 0])
    assert [p.shape for p in pieces] == [(0, 2), (5, 2), (0, 2)]


def test_split_by_size_leaves_a_shorter_last_piece_and_an_empty_axis_one_empty_piece():
    assert [p.shape for p in tg.zeros(2, 5).split(2, dim=-1)] == [(2, 2), (2, 2), (2, 1)]
    assert [p.shape for p in tg.zeros(0).split(2)] == [(0,)]


def test_chunk_may_return_fewer_pieces_and_an_empty_axis_gives_empty_chunks():
    assert [p.shape for p in tg.zeros(5).chunk(4)] == [(2,), (2,), (1,)]
    assert [p.shape for p in tg.zeros(0).chunk(3)] == [(0,), (0,), (0,)]


def test_split_pieces_carry_the_gradient_back_to_their_places(rng):
    x = normal(rng, (3, 4))
    first, second = x.split([1, 3], dim=-1)
    (first.sum() + 2 * second.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, np.tile([1.0, 2.0, 2.0, 2.0], (3, 1)))


def test_cat_and_stack_along_negative_dims(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    np.testing.assert_array_equal(tg.cat([a, b], -2).data, np.concatenate([a.data, b.data], 0))
    np.testing.assert_array_equal(tg.stack([a, b], -1).data, np.stack([a.data, b.data], -1))
    assert_gradcheck(lambda a, b: tg.stack([a, b, a], -1), a, b)


def test_cat_promotes_dtypes_and_gives_each_input_its_own_dtype_back():
    a = leaf([1.0, 2.0], dtype=np.float32)
    b = leaf([3.0], dtype=np.float64)
    out = tg.cat([a, b])
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_squeeze_unsqueeze_with_negative_dims_and_a_dim_that_is_not_one():
    x = tg.zeros(2, 1, 3)
    assert x.squeeze(-2).shape == (2, 3)
    assert x.squeeze(0).shape == (2, 1, 3)  # not of size 1: left as it is, as in PyTorch
    assert x.squeeze((0, 1)).shape == (2, 3)
    assert x.unsqueeze(-1).shape == (2, 1, 3, 1)
    assert x.unsqueeze(0).shape == (1, 2, 1, 3)


def test_flip_gradient_flips_back(rng):
    x = normal(rng, (2, 3))
    g = rng.standard_normal((2, 3))
    x.flip(-1).backward(g)
    np.testing.assert_array_equal(x.grad.data, g[:, ::-1])


def test_gather_with_repeated_indices_adds_their_gradients():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    tg.gather(x, 1, np.array([[0, 0], [1, 1]])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[2.0, 0.0], [0.0, 2.0]])


def test_one_hot_counts_classes_from_the_largest_index_by_default():
    np.testing.assert_array_equal(F.one_hot(np.array([1, 0, 3])).data, np.eye(4, dtype=np.int64)[[1, 0, 3]])
    assert F.one_hot(tg.tensor(np.array([[1]])), 3).shape == (1, 1, 3)


def test_embedding_padding_row_gets_no_gradient():
    weight = leaf(np.arange(6.0).reshape(3, 2))
    F.embedding(np.array([[0, 2], [2, 1]]), weight, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(weight.grad.data, [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])


def test_pad_negative_amounts_crop_and_value_fills(rng):
    x = normal(rng, (3, 4))
    out = F.pad(x, (2, -1, -1, 0), value=1.5)
    expected = np.full((2, 5), 1.5)
    expected[:, 2:] = x.data[1:, :3]
    np.testing.assert_array_equal(out.data, expected)
    assert_gradcheck(lambda x: F.pad(x, (2, -1, -1, 0), value=1.5), x)


# ----- einsum


@pytest.mark.parametrize(
    ("spec", "shapes"),
    [
        ("ii->i", [(3, 3)]),  # a diagonal: a repeated index
        ("iij->j", [(2, 2, 3)]),
        ("ii", [(3, 3)]),  # the trace, implicit output
        ("ij,ij->", [(2, 3), (2, 3)]),
        ("i,j->ij", [(2,), (3,)]),
        ("bij->", [(2, 3, 2)]),  # an index summed in one operand only
        ("...ij,...jk", [(2, 2, 3), (3, 2)]),
        ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
        ("ij,j", [(2, 3), (1,)]),  # a size-1 axis broadcasts
        ("ba", [(2, 3)]),  # implicit output in alphabetical order: a transpose
    ],
)
def test_einsum_matches_numpy_and_passes_gradcheck(spec, shapes, rng):
    operands = [normal(rng, shape) for shape in shapes]
    out = tg.einsum(spec, *operands)
    np.testing.assert_allclose(out.data, np.einsum(spec, *[o.data for o in operands]), rtol=1e-13)
    assert_gradcheck(lambda *xs: tg.einsum(spec, *xs), *operands)


def test_einsum_takes_its_operands_as_a_list_too(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (3, 2))
    np.testing.assert_allclose(tg.einsum("ij,jk->ik", [a, b]).data, a.data @ b.data, rtol=1e-13)


# ----- broadcasting, over random shapes


@settings(max_examples=30, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    which=st.sampled_from(["maximum", "minimum", "where"]),
    seed=st.integers(0, 2**16),
)
def test_binary_ops_broadcast_and_sum_their_gradients_back(shapes, which, seed):
    rng = np.random.default_rng(seed)
    a, b = normal(rng, shapes.input_shapes[0]), normal(rng, shapes.input_shapes[1])
    fn = {
        "maximum": tg.maximum,
        "minimum": tg.minimum,
        "where": lambda a, b: tg.where(a > 0, a, b),
    }[which]
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    g = rng.standard_normal(out.shape)
    out.backward(g)
    a_wins = {
        "maximum": a.data > b.data,
        "minimum": a.data < b.data,
        "where": np.broadcast_to(a.data > 0, out.shape),
    }[which]
    a_wins = np.broadcast_to(a_wins, out.shape)
    np.testing.assert_allclose(a.grad.data, unbroadcast(g * a_wins, a.shape), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.grad.data, unbroadcast(g * ~a_wins, b.shape), rtol=1e-12, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
    data=st.data(),
    op=st.sampled_from(["var", "std", "logsumexp", "norm", "prod", "amin"]),
)
def test_reductions_pass_gradcheck_over_any_axis(shape, data, op):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    rng = np.random.default_rng(len(shape) * 7 + dim)
    # distinct values spread apart: no ties for amin, no zero variance, no zero norm
    x = leaf(rng.permutation(int(np.prod(shape))).reshape(shape) * 0.3 + 0.5)
    if op in ("var", "std") and shape[dim] == 1:
        return  # one element per slice: the variance is nan by definition, a value and not a gradient
    assert_gradcheck(lambda x: getattr(x, op)(dim=dim, keepdim=keepdim), x)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**16))
def test_expand_of_size_one_axes_and_new_leading_axes_sums_the_gradient_back(shape, seed):
    rng = np.random.default_rng(seed)
    reduced = tuple(1 if i % 2 else s for i, s in enumerate(shape))
    x = normal(rng, reduced)
    out = x.expand(2, *shape)
    assert out.shape == (2, *shape)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    np.testing.assert_allclose(x.grad.data, unbroadcast(g, reduced), rtol=1e-12)
