"""Losses with PyTorch's options: class weights and the weighted mean, ignored targets, label smoothing,
extra axes, pos_weight, and the numerics of huge logits. References are NumPy transcriptions of the
formulas in PyTorch's documentation."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F

from .helpers import assert_gradcheck, leaf, log_softmax_ref, normal

REDUCTIONS = ["mean", "sum", "none"]


def nll_ref(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """-w[y] log p[y] per position, 0 where ignored; "mean" divides by the counted weights."""
    classes = log_probs.shape[1]
    weight = np.ones(classes) if weight is None else weight
    moved = np.moveaxis(log_probs, 1, -1)
    counted = target != ignore_index
    safe = np.where(counted, target, 0)
    picked = np.take_along_axis(moved, safe[..., None], -1)[..., 0]
    w = np.where(counted, weight[safe], 0.0)
    losses = -picked * w
    if reduction == "none":
        return losses
    return losses.sum() / (w.sum() if reduction == "mean" else 1.0)


def smoothed_ref(logits, target, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """PyTorch's label smoothing for class indices: (1 - e) nll + e / C * (the weighted sum of -log p)."""
    log_probs = log_softmax_ref(logits, 1)
    classes = logits.shape[1]
    weight_vector = np.ones(classes) if weight is None else weight
    nll = nll_ref(log_probs, target, weight, ignore_index, reduction)
    counted = target != ignore_index
    shape = [1] * logits.ndim
    shape[1] = classes
    smooth = -(log_probs * weight_vector.reshape(shape)).sum(1) * counted
    if reduction == "mean":
        smooth = smooth.sum() / np.where(counted, weight_vector[np.where(counted, target, 0)], 0).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - smoothing) * nll + smoothing / classes * smooth


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_class_weights_uses_the_weighted_mean(reduction, rng):
    logits = normal(rng, (5, 4))
    target = np.array([0, 3, 1, 1, 2])
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    out = F.cross_entropy(logits, target, weight=weight, reduction=reduction)
    np.testing.assert_allclose(
        out.data, nll_ref(log_softmax_ref(logits.data, 1), target, weight, -100, reduction), rtol=1e-13
    )
    assert_gradcheck(lambda x: F.cross_entropy(x, target, weight=weight, reduction=reduction), logits)


def test_cross_entropy_weighted_mean_is_not_the_plain_mean_of_weighted_losses(rng):
    logits = normal(rng, (3, 2))
    target = np.array([0, 1, 1])
    weight = np.array([1.0, 4.0])
    per_row = F.cross_entropy(logits, target, weight=weight, reduction="none").data
    mean = F.cross_entropy(logits, target, weight=weight).item()
    assert mean == pytest.approx(per_row.sum() / 9.0, rel=1e-14)  # the weights of the targets: 1 + 4 + 4
    assert mean != pytest.approx(per_row.mean())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_ignores_the_default_ignore_index(reduction, rng):
    logits = normal(rng, (4, 3))
    target = np.array([2, -100, 0, -100])
    out = F.cross_entropy(logits, target, reduction=reduction)
    np.testing.assert_allclose(
        out.data, nll_ref(log_softmax_ref(logits.data, 1), target, None, -100, reduction), rtol=1e-13
    )
    out.sum().backward()
    np.testing.assert_array_equal(logits.grad.data[[1, 3]], 0.0)  # ignored rows get no gradient


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_smoothing_weights_and_an_ignored_class_index(reduction, rng):
    logits = normal(rng, (5, 4))
    target = np.array([0, 3, 2, 1, 2])
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    out = F.cross_entropy(
        logits, target, weight=weight, ignore_index=2, reduction=reduction, label_smoothing=0.3
    )
    expected = smoothed_ref(logits.data, target, weight, 2, reduction, 0.3)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)
    assert_gradcheck(
        lambda x: F.cross_entropy(
            x, target, weight=weight, ignore_index=2, reduction=reduction, label_smoothing=0.3
        ),
        logits,
    )


def test_cross_entropy_over_extra_axes_matches_the_per_position_loss(rng):
    logits = normal(rng, (2, 4, 3))  # (N, C, d1)
    target = np.array([[0, 3, 1], [2, -100, 0]])
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    out = F.cross_entropy(logits, target, weight=weight)
    np.testing.assert_allclose(out.data, nll_ref(log_softmax_ref(logits.data, 1), target, weight), rtol=1e-13)
    assert F.cross_entropy(logits, target, reduction="none").shape == (2, 3)
    assert_gradcheck(lambda x: F.cross_entropy(x, target, weight=weight), logits)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probabilities_weights_and_smoothing_divides_by_the_positions(reduction, rng):
    logits = normal(rng, (5, 4))
    probabilities = rng.dirichlet(np.ones(4), 5)
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    out = F.cross_entropy(logits, probabilities, weight=weight, label_smoothing=0.2, reduction=reduction)
    smoothed = probabilities * 0.8 + 0.2 / 4
    losses = -(log_softmax_ref(logits.data, 1) * smoothed * weight).sum(1)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)


def test_cross_entropy_of_a_single_unbatched_row(rng):
    logits = normal(rng, (4,))
    out = F.cross_entropy(logits, np.array(2), label_smoothing=0.1)
    expected = smoothed_ref(logits.data[None], np.array([2]), smoothing=0.1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)


def test_cross_entropy_plain_case_is_still_one_fused_op(rng):
    out = F.cross_entropy(normal(rng, (3, 4)), np.array([0, 1, 3]))
    assert out.grad_fn.name == "cross_entropy"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_label_smoothing_of_class_indices_is_the_fused_op_too(reduction, rng):
    # (N, C) logits and class indices, no weights: smoothed one-hot probabilities into the fused op, the
    # loss of PyTorch's definition; its gradients of first and second order as any op's
    logits, target = normal(rng, (5, 4)), np.array([0, 3, 1, 3, 2])
    out = F.cross_entropy(logits, target, reduction=reduction, label_smoothing=0.3)
    assert out.grad_fn.name == "cross_entropy"
    expected = smoothed_ref(logits.data, target, reduction=reduction, smoothing=0.3)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)

    def loss(x):
        value = F.cross_entropy(x, target, reduction=reduction, label_smoothing=0.3)
        return value.sum() if reduction == "none" else value

    assert_gradcheck(loss, logits)
    assert tg.gradgradcheck(loss, (logits,))
    float32 = F.cross_entropy(logits.float(), target, reduction=reduction, label_smoothing=0.3)
    assert float32.dtype == np.float32


def test_cross_entropy_rejects_out_of_range_classes_and_bad_options(rng):
    logits = normal(rng, (2, 3))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\)"):
        F.cross_entropy(logits, np.array([0, 3]), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\)"):
        F.cross_entropy(logits, np.array([0, -1]))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(logits, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(logits, np.array([0, 1]), weight=np.ones(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_with_weights_and_ignore_index(reduction, rng):
    log_probs = normal(rng, (5, 4))
    target = np.array([0, 3, -100, 1, 2])
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    out = F.nll_loss(log_probs, target, weight=weight, reduction=reduction)
    np.testing.assert_allclose(out.data, nll_ref(log_probs.data, target, weight, -100, reduction), rtol=1e-13)


def test_nll_loss_when_every_target_is_ignored_is_nan_for_the_mean_and_zero_for_the_sum(rng):
    log_probs = normal(rng, (2, 3))
    target = np.array([-100, -100])
    assert np.isnan(F.nll_loss(log_probs, target).item())
    assert F.nll_loss(log_probs, target, reduction="sum").item() == 0.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_weights(reduction, rng):
    p = leaf(rng.uniform(0.05, 0.95, (3, 2)))
    t = rng.uniform(0, 1, (3, 2))
    w = np.array([0.5, 2.0])
    losses = -w * (t * np.log(p.data) + (1 - t) * np.log(1 - p.data))
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, w, reduction).data, expected, rtol=1e-13)


def test_binary_cross_entropy_limits_each_log_at_minus_100():
    p = leaf([0.0, 1.0])
    out = F.binary_cross_entropy(p, np.array([1.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(out.data, [100.0, 100.0])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(leaf([1.5]), np.array([1.0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_binary_cross_entropy_with_logits_is_exact_and_finite_for_huge_logits(dtype):
    x = leaf([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    t = np.array([1.0, 1.0, 1.0, 0.0, 0.0], dtype=dtype)
    out = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, [1000.0, 50.0, np.log(2.0), 50.0, 1000.0], rtol=1e-6)
    out.sum().backward()
    # d/dx = sigmoid(x) - t
    np.testing.assert_allclose(x.grad.data, [-1.0, -1.0, -0.5, 1.0, 1.0], rtol=1e-6)


def test_binary_cross_entropy_with_logits_pos_weight_weighs_the_positive_term_per_class(rng):
    x = normal(rng, (4, 3))
    t = rng.uniform(0, 1, (4, 3))
    pos_weight = np.array([1.0, 3.0, 0.5])
    log_sigmoid = -np.logaddexp(0, -x.data)
    log_one_minus = -np.logaddexp(0, x.data)
    expected = -(pos_weight * t * log_sigmoid + (1 - t) * log_one_minus).mean()
    out = F.binary_cross_entropy_with_logits(x, t, pos_weight=pos_weight)
    np.testing.assert_allclose(out.item(), expected, rtol=1e-13)
    assert_gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, t, pos_weight=pos_weight), x)


def test_regression_losses_gradient_flows_to_a_target_that_requires_grad(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    for loss in (F.mse_loss, F.smooth_l1_loss, F.huber_loss):
        assert_gradcheck(loss, a, b)


def test_smooth_l1_with_beta_zero_is_l1(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    np.testing.assert_allclose(F.smooth_l1_loss(a, b, beta=0.0).data, F.l1_loss(a, b).data, rtol=1e-15)


def test_smooth_l1_is_huber_divided_by_beta(rng):
    a, b = normal(rng, (3, 3)), normal(rng, (3, 3))
    np.testing.assert_allclose(
        F.smooth_l1_loss(a, b, beta=0.7).data, F.huber_loss(a, b, delta=0.7).data / 0.7, rtol=1e-14
    )


def test_a_target_of_another_shape_broadcasts_with_a_warning(rng):
    with pytest.warns(UserWarning, match=r"target size \(3, 1\) differs from input size \(3,\)"):
        out = F.mse_loss(normal(rng, (3,)), normal(rng, (3, 1)))
    assert out.shape == ()


def test_an_unknown_reduction_is_refused(rng):
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(normal(rng, (2,)), normal(rng, (2,)), reduction="average")


def test_losses_are_functions_of_tg_too():
    assert tg.mse_loss is F.mse_loss and tg.cross_entropy is F.cross_entropy


def test_a_reduction_given_where_pytorch_takes_the_weight_is_refused_with_a_hint(rng):
    with pytest.raises(
        TypeError, match=r"third argument is weight, as in PyTorch; pass reduction='sum' by keyword"
    ):
        F.cross_entropy(normal(rng, (2, 3)), np.array([0, 1]), "sum")
