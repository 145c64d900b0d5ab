"""F.batch_norm against torch.nn.functional.batch_norm: values, gradients, running statistics, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorgrad as tg
import tensorgrad.functional as F

from .helpers import assert_gradcheck, normal, positive

SHAPES = [(5, 3), (4, 3, 5), (3, 2, 4, 3)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch_values_gradients_and_running_statistics(shape, training, rng):
    channels = shape[1]
    x = leaf_like(rng.standard_normal(shape) * 3 + 2)
    weight, bias = normal(rng, (channels,)), normal(rng, (channels,))
    mean, var = rng.standard_normal(channels), rng.uniform(0.5, 2.0, channels)
    running = [mean.copy(), var.copy()]
    out = F.batch_norm(x, *running, weight, bias, training, 0.2, 1e-3)
    xt, wt, bt = (torch.tensor(a.data, requires_grad=True) for a in (x, weight, bias))
    running_t = [torch.tensor(mean), torch.tensor(var)]
    expected = torch.nn.functional.batch_norm(xt, *running_t, wt, bt, training, 0.2, 1e-3)
    grad = rng.standard_normal(shape)
    out.backward(grad)
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in ((x, xt), (weight, wt), (bias, bt)):
        np.testing.assert_allclose(mine.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(running, running_t):  # updated in place, the variance unbiased
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-12)


def leaf_like(values):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_passes_gradcheck_and_gradgradcheck(training, rng):
    x, weight, bias = normal(rng, (4, 2, 3)), normal(rng, (2,)), normal(rng, (2,))
    mean, var = rng.standard_normal(2), positive(rng, (2,), requires_grad=False).data

    def norm(x, weight, bias):
        return F.batch_norm(x, mean.copy(), var.copy(), weight, bias, training, 0.1, 1e-3)

    assert_gradcheck(norm, x, weight, bias)
    assert tg.gradgradcheck(norm, (x, weight, bias))


def test_batch_norm_without_affine_or_running_statistics_uses_the_batch(rng):
    x = normal(rng, (6, 3, 2, 2))
    out = F.batch_norm(x, None, None, training=True)
    expected = torch.nn.functional.batch_norm(torch.tensor(x.data), None, None, training=True)
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-12, atol=1e-12)
    assert_gradcheck(lambda x: F.batch_norm(x, None, None, training=True), x)


def test_batch_norm_keeps_float32_float32(rng):
    x = tg.tensor(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), requires_grad=True)
    mean, var = np.zeros(4, np.float32), np.ones(4, np.float32)
    for training in (True, False):
        out = F.batch_norm(x, mean, var, training=training)
        out.sum().backward()
        assert out.dtype == x.grad.dtype == mean.dtype == var.dtype == np.float32


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((1, 3), {"training": True}, "more than 1 value per channel"),
        ((4, 3), {"training": False, "running_mean": None}, "must be given in evaluation mode"),
        ((4, 2), {"training": True}, r"running_mean must have shape \(2,\)"),
        ((4,), {"training": True}, "channel axis"),
    ],
)
def test_batch_norm_rejects_bad_arguments_with_a_message(shape, kwargs, message, rng):
    arguments = {"running_mean": np.zeros(3), "running_var": np.ones(3), **kwargs}
    with pytest.raises(ValueError, match=message):
        F.batch_norm(normal(rng, shape), **arguments)


@pytest.mark.parametrize("given", ["weight", "bias"])
def test_batch_norm_with_only_a_weight_or_only_a_bias_matches_torch(given, rng):
    x, affine = normal(rng, (5, 2, 3)), normal(rng, (2,))
    kwargs = {given: affine}
    out = F.batch_norm(x, None, None, training=True, **kwargs)
    xt, at = torch.tensor(x.data, requires_grad=True), torch.tensor(affine.data, requires_grad=True)
    expected = torch.nn.functional.batch_norm(xt, None, None, training=True, **{given: at})
    grad = rng.standard_normal(x.shape)
    out.backward(grad)
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(affine.grad.data, at.grad.numpy(), rtol=1e-10, atol=1e-12)
