"""tensorgrad.functional: activations, softmax family, linear, cross_entropy, dropout, l2_penalty."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F

from .helpers import (
    assert_gradcheck,
    away_from_zero,
    leaf,
    log_softmax_ref,
    normal,
    positive,
    softmax_ref,
)

# ----- element-wise functions


@pytest.mark.parametrize(
    ("fn", "ref", "make_input"),
    [
        (F.relu, lambda a: np.maximum(a, 0), away_from_zero),
        (F.tanh, np.tanh, normal),
        (F.sigmoid, lambda a: 1 / (1 + np.exp(-a)), normal),
        (F.exp, np.exp, normal),
        (F.log, np.log, positive),
    ],
    ids=["relu", "tanh", "sigmoid", "exp", "log"],
)
def test_functional_elementwise_matches_numpy_and_passes_gradcheck(fn, ref, make_input, rng):
    x = make_input(rng, (3, 4))
    np.testing.assert_allclose(fn(x).data, ref(x.data), rtol=1e-14)
    assert_gradcheck(fn, x)


def test_functional_relu_gradient_is_zero_at_exactly_zero():
    x = leaf([-1.0, 0.0, 1.0])
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_sigmoid_is_stable_and_exact_at_plus_minus_1000(dtype):
    x = leaf([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype
    assert y.data[0] == 0.0 and y.data[-1] == 1.0 and y.data[2] == 0.5
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad.data))
    assert x.grad.data[0] == 0.0 and x.grad.data[-1] == 0.0 and x.grad.data[2] == 0.25


def test_sigmoid_is_accurate_for_large_negative_inputs():
    x = leaf([-30.0, -80.0])
    np.testing.assert_allclose(
        F.sigmoid(x).data, np.exp([-30.0, -80.0]) / (1 + np.exp([-30.0, -80.0])), rtol=1e-14
    )


# ----- softmax and log_softmax


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_softmax_and_log_softmax_match_numpy_along_any_axis(axis, rng):
    x = normal(rng, (2, 3, 4))
    np.testing.assert_allclose(F.softmax(x, axis=axis).data, softmax_ref(x.data, axis), rtol=1e-14)
    np.testing.assert_allclose(
        F.log_softmax(x, axis=axis).data, log_softmax_ref(x.data, axis), rtol=1e-14, atol=1e-15
    )
    np.testing.assert_allclose(F.softmax(x, axis=axis).data.sum(axis=axis), 1.0, rtol=1e-15)
    np.testing.assert_allclose(x.softmax(axis).data, F.softmax(x, axis).data)
    np.testing.assert_allclose(x.log_softmax(axis).data, F.log_softmax(x, axis).data)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_gradients_pass_gradcheck_along_any_axis(axis, rng):
    x = normal(rng, (2, 3, 4))
    assert_gradcheck(lambda x: F.softmax(x, axis=axis), x)
    assert_gradcheck(lambda x: F.log_softmax(x, axis=axis), x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax_take_pytorchs_dim_keyword(name, rng):
    x = normal(rng, (2, 3, 4))
    function, reference = getattr(F, name), {"softmax": softmax_ref, "log_softmax": log_softmax_ref}[name]
    expected = reference(x.data, 1)
    for result in (function(x, dim=1), getattr(x, name)(dim=1), function(x, 1), function(x, axis=1)):
        np.testing.assert_allclose(result.data, expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(function(x, dim=1, axis=1).data, expected, rtol=1e-14, atol=1e-15)
    with pytest.raises(TypeError, match=r"dim=0 and axis=1: give one of them"):
        function(x, dim=0, axis=1)


def test_softmax_default_axis_is_the_last(rng):
    x = normal(rng, (3, 5))
    np.testing.assert_allclose(F.softmax(x).data, softmax_ref(x.data, -1), rtol=1e-14)
    np.testing.assert_allclose(F.log_softmax(x).data, log_softmax_ref(x.data, -1), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_softmax_and_log_softmax_are_finite_and_correct_for_huge_logits(dtype):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0], [1000.0, 1000.0, -1000.0]])
    x = leaf(z, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probs, log_probs = F.softmax(x), F.log_softmax(x)
        (probs * leaf(np.arange(9.0).reshape(3, 3), dtype=dtype)).sum().backward()
    assert np.all(np.isfinite(probs.data)) and np.all(np.isfinite(log_probs.data))
    assert np.all(np.isfinite(x.grad.data))
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(probs.data, softmax_ref(z), rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(log_probs.data, log_softmax_ref(z), rtol=rtol)
    assert log_probs.data[0, 1] == -2000.0


def test_softmax_gradient_has_the_jacobian_vector_form(rng):
    x = normal(rng, (4,))
    g = rng.standard_normal(4)
    F.softmax(x).backward(g)
    s = softmax_ref(x.data)
    np.testing.assert_allclose(x.grad.data, (np.diag(s) - np.outer(s, s)) @ g, rtol=1e-13)


# ----- linear


@pytest.mark.parametrize("x_shape", [(4,), (3, 4), (2, 3, 4)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
def test_linear_matches_numpy_and_passes_gradcheck(x_shape, with_bias, rng):
    x, w = normal(rng, x_shape), normal(rng, (5, 4))
    b = normal(rng, (5,)) if with_bias else None
    out = F.linear(x, w, b)
    expected = x.data @ w.data.T + (b.data if with_bias else 0)
    assert out.shape == (*x_shape[:-1], 5)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)
    inputs = (x, w, b) if with_bias else (x, w)
    assert_gradcheck(lambda *args: F.linear(*args), *inputs)


def test_linear_gradients_have_the_textbook_form_for_a_batch_of_sequences(rng):
    x, w, b = normal(rng, (2, 3, 4)), normal(rng, (5, 4)), normal(rng, (5,))
    g = rng.standard_normal((2, 3, 5))
    F.linear(x, w, b).backward(g)
    np.testing.assert_allclose(x.grad.data, g @ w.data, rtol=1e-13)
    np.testing.assert_allclose(w.grad.data, np.einsum("bto,bti->oi", g, x.data), rtol=1e-13)
    np.testing.assert_allclose(b.grad.data, g.sum(axis=(0, 1)), rtol=1e-13)


def test_linear_with_a_frozen_input_gives_gradients_only_to_the_weights(rng):
    x, w = normal(rng, (3, 4), requires_grad=False), normal(rng, (2, 4))
    F.linear(x, w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad.data, np.ones((3, 2)).T @ x.data, rtol=1e-14)


# ----- cross_entropy


def _onehot(target, classes):
    return np.eye(classes)[target]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_class_indices_matches_a_log_softmax_reference(reduction, rng):
    z, t = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    losses = -log_softmax_ref(z)[np.arange(6), t]
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    out = F.cross_entropy(leaf(z), t, reduction=reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_one_hot_float_targets_equals_class_indices(reduction, rng):
    z, t = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    by_index = F.cross_entropy(leaf(z), t, reduction=reduction)
    by_onehot = F.cross_entropy(leaf(z), _onehot(t, 3), reduction=reduction)
    np.testing.assert_allclose(by_onehot.data, by_index.data, rtol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_soft_targets_is_minus_sum_of_target_times_log_softmax(reduction, rng):
    z = rng.standard_normal((4, 5))
    p = softmax_ref(rng.standard_normal((4, 5)))
    losses = -(p * log_softmax_ref(z)).sum(axis=1)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(
        F.cross_entropy(leaf(z), leaf(p, requires_grad=False), reduction=reduction).data, expected, rtol=1e-14
    )


def test_cross_entropy_accepts_index_targets_as_tensor_list_or_array(rng):
    z = leaf(rng.standard_normal((3, 4)))
    values = [F.cross_entropy(z, t).item() for t in (tg.tensor([1, 0, 3]), [1, 0, 3], np.array([1, 0, 3]))]
    assert values[0] == values[1] == values[2]


def test_cross_entropy_mean_gradient_is_softmax_minus_onehot_over_n(rng):
    z, t = leaf(rng.standard_normal((6, 4))), rng.integers(0, 4, 6)
    F.cross_entropy(z, t).backward()
    np.testing.assert_allclose(z.grad.data, (softmax_ref(z.data) - _onehot(t, 4)) / 6, rtol=1e-12)


def test_cross_entropy_sum_gradient_is_softmax_minus_onehot(rng):
    z, t = leaf(rng.standard_normal((6, 4))), rng.integers(0, 4, 6)
    F.cross_entropy(z, t, reduction="sum").backward()
    np.testing.assert_allclose(z.grad.data, softmax_ref(z.data) - _onehot(t, 4), rtol=1e-12)


def test_cross_entropy_none_gradient_is_softmax_minus_onehot_scaled_per_row(rng):
    z, t = leaf(rng.standard_normal((6, 4))), rng.integers(0, 4, 6)
    g = rng.standard_normal(6)
    F.cross_entropy(z, t, reduction="none").backward(g)
    np.testing.assert_allclose(z.grad.data, (softmax_ref(z.data) - _onehot(t, 4)) * g[:, None], rtol=1e-12)


def test_cross_entropy_gradient_with_one_hot_float_target_matches_index_target(rng):
    z1, t = leaf(rng.standard_normal((5, 3))), np.array([2, 0, 1, 2, 2])
    z2 = leaf(z1.data)
    F.cross_entropy(z1, t).backward()
    F.cross_entropy(z2, _onehot(t, 3)).backward()
    np.testing.assert_allclose(z2.grad.data, z1.grad.data, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_logits_gradient_passes_gradcheck_for_every_target_kind(reduction, rng):
    z = normal(rng, (4, 3))
    t = np.array([0, 2, 1, 2])
    p = leaf(softmax_ref(rng.standard_normal((4, 3))), requires_grad=False)
    assert_gradcheck(lambda z: F.cross_entropy(z, t, reduction=reduction), z)
    assert_gradcheck(lambda z: F.cross_entropy(z, _onehot(t, 3), reduction=reduction), z)
    assert_gradcheck(lambda z: F.cross_entropy(z, p, reduction=reduction), z)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_reaches_a_probability_target_that_requires_grad(reduction, rng):
    z, p = normal(rng, (4, 3)), leaf(softmax_ref(rng.standard_normal((4, 3))))
    assert_gradcheck(lambda z, p: F.cross_entropy(z, p, reduction=reduction), z, p)
    z.grad = p.grad = None
    F.cross_entropy(z, p, reduction="sum").backward()
    np.testing.assert_allclose(p.grad.data, -log_softmax_ref(z.data), rtol=1e-13)


def test_cross_entropy_gradient_reaches_a_target_produced_by_softmax(rng):
    z, teacher = normal(rng, (3, 4)), normal(rng, (3, 4))
    assert_gradcheck(lambda z, teacher: F.cross_entropy(z, F.softmax(teacher)), z, teacher)


def test_cross_entropy_with_float32_logits_and_a_float64_target_stays_float32(rng):
    z = leaf(rng.standard_normal((3, 4)), dtype=np.float32)
    p = leaf(softmax_ref(rng.standard_normal((3, 4))))
    loss = F.cross_entropy(z, p)
    assert loss.dtype == np.float32
    loss.backward()
    assert z.grad.dtype == np.float32 and p.grad.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    t = np.array([1, 2, 0])
    x = leaf(z, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        losses = F.cross_entropy(x, t, reduction="none")
        losses.sum().backward()
    reference = -log_softmax_ref(z)[np.arange(3), t]  # [2000, 1 + log1p(e^-1), log 3]
    assert np.all(np.isfinite(losses.data)) and np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(losses.data, reference, rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(x.grad.data, softmax_ref(z) - _onehot(t, 3), rtol=1e-6, atol=1e-7)


def test_cross_entropy_with_soft_targets_is_finite_for_huge_logits():
    z = leaf([[1000.0, -1000.0], [-1000.0, 1000.0]])
    p = leaf([[0.5, 0.5], [0.25, 0.75]], requires_grad=False)
    loss = F.cross_entropy(z, p, reduction="none")
    np.testing.assert_allclose(loss.data, [1000.0, 500.0], rtol=1e-14)


def test_cross_entropy_of_a_perfect_prediction_is_zero():
    loss = F.cross_entropy(leaf([[50.0, 0.0], [0.0, 50.0]]), np.array([0, 1]))
    assert 0.0 <= loss.item() < 1e-20


# ----- dropout


def test_dropout_backward_applies_the_forward_mask(rng):
    x = away_from_zero(rng, (40, 50))
    y = F.dropout(x, 0.3, rng=np.random.default_rng(5))
    y.sum().backward()
    mask = y.data / x.data
    np.testing.assert_allclose(x.grad.data, mask, rtol=1e-15)
    assert set(np.unique(np.round(mask, 12))) == {0.0, round(1 / 0.7, 12)}


def test_dropout_keeps_about_one_minus_p_of_a_big_tensor_and_scales_by_one_over_one_minus_p():
    x = tg.ones(200_000, dtype=np.float32)
    y = F.dropout(x, 0.3, rng=np.random.default_rng(0))
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.005
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data.mean(), 1.0, atol=0.01)  # inverted dropout keeps the expectation


def test_dropout_in_eval_mode_or_with_p_zero_returns_the_input_unchanged(rng):
    x = normal(rng, (3, 4))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_with_p_one_zeroes_everything_and_its_gradient(rng):
    x = normal(rng, (3, 4))
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.data, np.zeros((3, 4)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((3, 4)))


def test_dropout_mask_is_reproducible_from_the_seed(rng):
    x = normal(rng, (20, 20))
    first = F.dropout(x, 0.5, rng=np.random.default_rng(11)).data
    np.testing.assert_array_equal(F.dropout(x, 0.5, rng=np.random.default_rng(11)).data, first)
    np.testing.assert_array_equal(F.dropout(x, 0.5, rng=11).data, first)
    assert not np.array_equal(F.dropout(x, 0.5, rng=12).data, first)
    tg.manual_seed(4)
    by_default = F.dropout(x, 0.5).data
    tg.manual_seed(4)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, by_default)


def test_dropout_gradient_passes_gradcheck_when_the_rng_is_reseeded_inside_fn(rng):
    x = normal(rng, (4, 5))
    assert_gradcheck(lambda x: F.dropout(x, 0.4, rng=np.random.default_rng(3)), x)

    def with_global_seed(x):
        tg.manual_seed(9)
        return F.dropout(x, 0.6)

    assert_gradcheck(with_global_seed, x)


def test_dropout_rejects_probabilities_outside_zero_one(rng):
    x = normal(rng, (2,))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability"):
            F.dropout(x, p)


# ----- l2_penalty


def test_l2_penalty_is_half_lambda_times_sum_of_squares_with_gradient_lambda_w(rng):
    w1, w2 = normal(rng, (3, 4)), normal(rng, (4,))
    penalty = F.l2_penalty([w1, w2], 0.1)
    expected = 0.05 * ((w1.data**2).sum() + (w2.data**2).sum())
    assert penalty.shape == ()
    np.testing.assert_allclose(penalty.item(), expected, rtol=1e-14)
    penalty.backward()
    np.testing.assert_allclose(w1.grad.data, 0.1 * w1.data, rtol=1e-15)
    np.testing.assert_allclose(w2.grad.data, 0.1 * w2.data, rtol=1e-15)


def test_l2_penalty_gradient_passes_gradcheck_and_accepts_a_generator(rng):
    w1, w2 = normal(rng, (2, 3)), normal(rng, (3,))
    assert_gradcheck(lambda a, b: F.l2_penalty((w for w in (a, b)), 0.3), w1, w2)


def test_l2_penalty_skips_weights_that_do_not_require_grad(rng):
    w, frozen = normal(rng, (3,)), normal(rng, (3,), requires_grad=False)
    F.l2_penalty([w, frozen], 2.0).backward()
    np.testing.assert_allclose(w.grad.data, 2.0 * w.data)
    assert frozen.grad is None


def test_l2_penalty_of_no_parameters_raises():
    with pytest.raises(ValueError, match="at least one parameter"):
        F.l2_penalty([], 0.1)
