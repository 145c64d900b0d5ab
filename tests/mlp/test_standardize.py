"""The MLP's input steps, a gamma curve and a standardization: the statistics it fits, the function it
computes (against PyTorch on the transformed pixels), what it refuses, and how runs fit, keep and restore
them."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # a test dependency: CI must fail, not skip, where it is missing

import tensorgrad as tg
from tensorgrad.data import load_fashion_mnist
from tensorgrad.models import MLP
from tensorgrad.training import TrainConfig, build_model, load_checkpoint, load_trained_model, train_run
from tensorgrad.training.builders import seed_generators
from tensorgrad.training.run import prepare_data


def images(n=300, seed=0):
    """Image-like rows: mostly black borders, brighter in the middle."""
    rng = np.random.default_rng(seed)
    rows = rng.random((n, 784), dtype=np.float32) * np.linspace(0.0, 1.0, 784, dtype=np.float32)
    rows[:, :5] = 0.0  # pixels that never change: their deviation is 0, the floor alone divides
    return rows


def test_the_statistics_are_each_pixels_mean_and_deviation_plus_the_floor():
    model, x = MLP(rng=0, standardize=True), images()
    model.set_input_statistics(x.reshape(-1, 1, 28, 28), floor=0.1)
    np.testing.assert_allclose(model.input_mean.data, x.astype(np.float64).mean(axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.input_std.data, x.astype(np.float64).std(axis=0) + 0.1, rtol=1e-6)
    assert model.input_mean.dtype == model.input_std.dtype == np.float32
    assert np.all(model.input_std.data[:5] == np.float32(0.1))


def test_with_a_gamma_curve_the_statistics_are_those_of_the_curved_pixels():
    model, x = MLP(rng=0, standardize=True, input_gamma=0.5), images()
    model.set_input_statistics(x, floor=0.1)
    curved = np.sqrt(x.astype(np.float64))
    np.testing.assert_allclose(model.input_mean.data, curved.mean(axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.input_std.data, curved.std(axis=0) + 0.1, rtol=1e-6)


def test_the_statistics_do_not_depend_on_the_chunks():
    from tensorgrad.models.mlp import _column_moments

    x = images(1000) + 0.5  # away from 0: a one-pass formula would lose digits here
    same = lambda rows: rows  # noqa: E731
    whole, chunked = _column_moments(x, same, chunk=10_000), _column_moments(x, same, chunk=7)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_a_standardized_mlp_is_the_plain_one_on_standardized_pixels():
    standardized, plain, x = MLP(rng=3, standardize=True), MLP(rng=3), images()
    standardized.set_input_statistics(x, floor=0.05)
    standardized.eval(), plain.eval()
    z = (x - standardized.input_mean.data) / standardized.input_std.data
    np.testing.assert_array_equal(standardized(x).data, plain(z).data)
    keys = list(standardized.state_dict())
    assert keys[:3] == ["input_mean", "input_std", "0.weight"]  # a module's own buffers first, as in torch
    assert "standardize=True" in repr(standardized) and "standardize" not in repr(plain)
    assert len(list(standardized.parameters())) == len(list(plain.parameters()))  # statistics, not weights


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_the_gamma_curve_comes_before_the_standardization(gamma):
    curved, plain, x = MLP(rng=3, standardize=True, input_gamma=gamma), MLP(rng=3), images()
    curved.set_input_statistics(x, floor=0.1)
    curved.eval(), plain.eval()
    z = (np.power(x, np.float32(gamma)) - curved.input_mean.data) / curved.input_std.data
    np.testing.assert_allclose(curved(x).data, plain(z).data, rtol=1e-6, atol=1e-6)
    assert f"input_gamma={gamma:g}" in repr(curved)
    alone = MLP(rng=3, input_gamma=gamma)  # a curve without standardization
    alone.eval()
    np.testing.assert_allclose(
        alone(x).data, plain(np.power(x, np.float32(gamma))).data, rtol=1e-6, atol=1e-6
    )


def test_its_state_dict_loads_into_torch_beside_the_standardization():
    model, x = MLP(rng=1, standardize=True, input_gamma=0.5), images(64, seed=1)
    model.set_input_statistics(images(), floor=0.1)
    model.eval()
    state = model.state_dict()
    mean, std = state.pop("input_mean"), state.pop("input_std")
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 196), torch.nn.ReLU(), torch.nn.Dropout(0.1),
        torch.nn.Linear(196, 64), torch.nn.ReLU(), torch.nn.Dropout(0.1),
        torch.nn.Linear(64, 10),
    )  # fmt: skip
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    net.eval()
    expected = (
        net((torch.from_numpy(x) ** 0.5 - torch.from_numpy(mean)) / torch.from_numpy(std)).detach().numpy()
    )
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-5, atol=1e-5)


def test_gradients_reach_the_input_through_the_standardization():
    model = MLP(sizes=(6, 5, 3), rng=0, standardize=True, input_gamma=0.5, dtype=np.float64)
    model.set_input_statistics(np.random.default_rng(0).random((20, 6)), floor=0.1)
    model.eval()
    x = tg.tensor(np.random.default_rng(1).random((4, 6)) + 0.1, requires_grad=True)  # x^0.5: away from 0
    assert tg.gradcheck(lambda x: model(x).sum(), (x,))


def test_bad_requests_are_refused_naming_the_problem():
    with pytest.raises(ValueError, match="built with standardize=False"):
        MLP(rng=0).set_input_statistics(images(), floor=0.1)
    model = MLP(rng=0, standardize=True)
    with pytest.raises(ValueError, match="floor must be > 0, got 0"):
        model.set_input_statistics(images(), floor=0)
    shape_message = r"two or more images of 784 values, got an array of shape \(5, 10\)"
    with pytest.raises(ValueError, match=shape_message):
        model.set_input_statistics(np.zeros((5, 10), np.float32), floor=0.1)
    with pytest.raises(ValueError, match="two or more images"):
        model.set_input_statistics(np.zeros((1, 784), np.float32), floor=0.1)
    with pytest.raises(ValueError, match="standardize must be > 0"):
        TrainConfig(standardize=-1.0)
    with pytest.raises(ValueError, match="input_gamma must be a number > 0, got 0"):
        MLP(input_gamma=0)
    with pytest.raises(ValueError, match="input_gamma must be > 0, got nan"):
        TrainConfig(input_gamma=float("nan"))


def test_a_run_fits_the_statistics_to_its_training_images_and_keeps_them(tmp_path):
    fashion = load_fashion_mnist(download=False)
    config = TrainConfig(max_train_examples=1500, val_size=500, batch_size=100, epochs=1, seed=3,
                         standardize=0.2, input_gamma=0.7, download=False)  # fmt: skip
    outcome = train_run(config, tmp_path / "run", dataset=fashion, log=lambda line: None, progress=False)
    assert outcome.exit_code == 0
    train_x = prepare_data(config, seed_generators(config.seed)["split"], fashion).train_x
    check = MLP(rng=0, standardize=True, input_gamma=0.7)
    check.set_input_statistics(train_x, floor=0.2)
    for name in ("best.npz", "last.npz"):
        state = load_checkpoint(tmp_path / "run" / name).model_state
        np.testing.assert_array_equal(state["input_mean"], check.input_mean.data)
        np.testing.assert_array_equal(state["input_std"], check.input_std.data)
    built = build_model(config, rng=0, train_images=train_x)  # what a run does, from Python
    assert np.array_equal(built.input_std.data, check.input_std.data)
    assert np.all(build_model(config, rng=0).input_std.data == 1)  # nothing to fit it to
    model, *_ = load_trained_model(tmp_path / "run")
    assert model.standardize and model.input_gamma == 0.7
    assert np.array_equal(model.input_std.data, check.input_std.data)


def test_a_run_from_before_the_input_steps_reads_as_plain_pixels():
    values = TrainConfig(standardize=None, input_gamma=1.0).to_dict()
    del values["standardize"], values["input_gamma"]  # config.json and checkpoints from before them
    config = TrainConfig.from_dict(values)
    assert (config.standardize, config.input_gamma) == (None, 1.0)
