"""The convolutional layers against torch.nn: initialization, state dicts, train/eval behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tensorgrad as tg
from tensorgrad import nn


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def to_torch_state(module) -> dict:
    return {key: torch.from_numpy(np.array(value)) for key, value in module.state_dict().items()}


def test_conv2d_default_init_is_torchs_uniform_with_bound_one_over_sqrt_fan_in():
    layer = nn.Conv2d(8, 16, (3, 2), groups=2, rng=0)
    bound = 1 / math.sqrt(4 * 3 * 2)  # fan_in = in_channels / groups * kH * kW
    for values in (layer.weight.data, layer.bias.data):
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound  # spread over the whole range, not a narrower one
    assert layer.weight.shape == (16, 4, 3, 2)
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)


def test_he_init_draws_normal_weights_with_variance_two_over_fan_in_and_zero_bias():
    layer = nn.Conv2d(16, 64, 3, rng=0, init="he")
    assert layer.weight.data.std() == pytest.approx(math.sqrt(2 / (16 * 9)), rel=0.05)
    assert not layer.bias.data.any()
    linear = nn.Linear(400, 300, rng=0)  # the paper's default stays He
    assert linear.weight.data.std() == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    assert not linear.bias.data.any()


def test_linear_takes_torchs_default_init_on_request():
    layer = nn.Linear(50, 40, rng=0, init="torch")
    bound = 1 / math.sqrt(50)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.bias.data).max() <= bound
    assert layer.bias.data.any()
    with pytest.raises(ValueError, match="init must be one of"):
        nn.Linear(3, 2, init="xavier")


def test_conv2d_layer_matches_torchs_with_the_same_state_dict(rng):
    layer = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2, rng=0)
    reference = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert list(layer.state_dict()) == list(reference.state_dict())
    reference.load_state_dict(to_torch_state(layer))
    x = rng.standard_normal((2, 4, 7, 7)).astype(np.float32)
    np.testing.assert_allclose(layer(x).data, reference(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    assert "groups=2" in repr(layer)
    no_bias = nn.Conv2d(2, 3, 1, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize(("layer_class", "shape"), [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm1d", (6, 3)),
                                                     ("BatchNorm1d", (4, 3, 5))])  # fmt: skip
def test_batch_norm_layers_follow_torch_over_train_and_eval_steps(layer_class, shape, momentum, rng):
    layer = getattr(nn, layer_class)(3, momentum=momentum)
    reference = getattr(torch.nn, layer_class)(3, momentum=momentum).double()
    layer.weight.data[...] = rng.standard_normal(3)
    layer.bias.data[...] = rng.standard_normal(3)
    reference.load_state_dict(to_torch_state(layer))
    assert list(layer.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    for step, training in enumerate([True, True, False, True, False]):
        layer.train(training)
        reference.train(training)
        x = rng.standard_normal(shape) * (step + 1) + step
        out = layer(tg.tensor(x.astype(np.float32)))
        expected = reference(torch.tensor(x))
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    for key, value in reference.state_dict().items():
        np.testing.assert_allclose(layer.state_dict()[key], value.numpy(), rtol=1e-5, err_msg=key)
    assert int(layer.num_batches_tracked.data) == 3


def test_batch_norm_without_bias_matches_torchs_keys_and_values(rng):
    layer, reference = nn.BatchNorm2d(3, bias=False), torch.nn.BatchNorm2d(3, bias=False).double()
    assert layer.bias is None and list(layer.state_dict()) == list(reference.state_dict())
    layer.weight.data[...] = rng.standard_normal(3)
    reference.load_state_dict(to_torch_state(layer))
    for training in (True, False):
        layer.train(training)
        reference.train(training)
        x = rng.standard_normal((4, 3, 2, 2)) * 3 + 1
        expected = reference(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(layer(x.astype(np.float32)).data, expected, rtol=1e-4, atol=1e-4)


def test_batch_norm_without_running_statistics_normalizes_with_the_batch_in_eval_mode(rng):
    layer = nn.BatchNorm2d(2, affine=False, track_running_stats=False).eval()
    assert list(layer.state_dict()) == [] and list(layer.parameters()) == []
    x = rng.standard_normal((4, 2, 3, 3)).astype(np.float32) * 5 + 3
    out = layer(x).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)


def test_batch_norm_layers_check_the_input_rank_and_reset_their_statistics(rng):
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D \(N, C, H, W\) input"):
        nn.BatchNorm2d(3)(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="BatchNorm1d: expected a 2-D"):
        nn.BatchNorm1d(3)(rng.standard_normal((4, 3, 2, 2)))
    layer = nn.BatchNorm1d(3)
    layer(rng.standard_normal((5, 3)).astype(np.float32))
    layer.reset_running_stats()
    assert not layer.running_mean.data.any() and (layer.running_var.data == 1).all()
    assert int(layer.num_batches_tracked.data) == 0


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    layer = nn.Dropout2d(0.5, rng=0)
    out = layer(np.ones((64, 8, 3, 3), dtype=np.float32)).data
    per_channel = out.reshape(64, 8, 9)
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()  # a channel is kept or dropped whole
    assert 0.4 < (per_channel[:, :, 0] == 0).mean() < 0.6
    layer.eval()
    assert (layer(np.ones((2, 3, 2, 2), dtype=np.float32)).data == 1).all()
    with pytest.raises(ValueError, match="dropout2d: expected a"):
        tg.functional.dropout2d(tg.tensor(np.ones((2, 3))), 0.5)


def test_dropout2d_gradient_is_the_same_mask(rng):
    x = tg.tensor(rng.standard_normal((4, 6, 2, 2)), requires_grad=True)
    out = tg.functional.dropout2d(x, 0.3, rng=1)
    out.sum().backward()
    kept = (out.data != 0)[:, :, :1, :1]  # one mask entry per (example, channel)
    np.testing.assert_allclose(x.grad.data, np.broadcast_to(kept / 0.7, x.shape), rtol=1e-15)


def test_pooling_layers_match_torchs(rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    pairs = [
        (nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
        (nn.MaxPool2d(2, ceil_mode=True), torch.nn.MaxPool2d(2, ceil_mode=True)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AvgPool2d(3, 2, 1, True, False), torch.nn.AvgPool2d(3, 2, 1, True, False)),
        (nn.AvgPool2d(2, divisor_override=3), torch.nn.AvgPool2d(2, divisor_override=3)),
        (nn.AdaptiveAvgPool2d((4, 3)), torch.nn.AdaptiveAvgPool2d((4, 3))),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-6)
        assert list(ours.state_dict()) == []


def test_max_pool2d_layer_returns_indices_as_torchs(rng):
    x = np.round(rng.standard_normal((2, 3, 7, 7))).astype(np.float32)  # ties
    out, indices = nn.MaxPool2d(2, return_indices=True, ceil_mode=True)(x)
    expected, expected_indices = torch.nn.MaxPool2d(2, return_indices=True, ceil_mode=True)(
        torch.from_numpy(x)
    )
    np.testing.assert_array_equal(out.data, expected.numpy())
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.Conv2d(4, 8, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False),
        lambda lib: lib.Conv2d(1, 3, 3),
        lambda lib: lib.MaxPool2d(2),
        lambda lib: lib.MaxPool2d(3, stride=2, padding=1),
        lambda lib: lib.MaxPool2d(2, ceil_mode=True, return_indices=True),
        lambda lib: lib.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda lib: lib.AvgPool2d(2),
        lambda lib: lib.AdaptiveAvgPool2d((1, 2)),
        lambda lib: lib.Dropout(0.25),
        lambda lib: lib.Dropout2d(0.25),
        lambda lib: lib.Flatten(),
        lambda lib: lib.BatchNorm2d(3),
        lambda lib: lib.BatchNorm2d(3, momentum=None, bias=False),
        lambda lib: lib.BatchNorm1d(4, eps=1e-3, affine=False, track_running_stats=False),
    ],
)
def test_layers_print_as_torchs(make):
    assert repr(make(nn)) == repr(make(torch.nn))
