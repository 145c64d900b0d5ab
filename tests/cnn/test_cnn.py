"""models.CNN: its size, and its state dict carried into the equivalent torch.nn.Sequential."""

from __future__ import annotations

import numpy as np
import torch

import tensorgrad as tg
from tensorgrad.models import CNN
from tensorgrad.models.cnn import block_pools
from tensorgrad.training import MODELS, TrainConfig


def torch_cnn():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )  # fmt: skip


def test_cnn_has_fewer_than_500k_parameters():
    model = CNN(rng=0)
    assert sum(p.size for p in model.parameters()) == 458_890


def test_cnn_state_dict_loads_into_torch_sequential_and_both_compute_the_same():
    model, reference = CNN(rng=0), torch_cnn()
    reference.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    model[14].p = reference[14].p = 0.0  # no dropout: the two would draw different masks
    rng = np.random.default_rng(0)
    x = rng.random((8, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 8)
    for training in (True, False):  # batch statistics (and their running update), then running ones
        model.train(training)
        reference.train(training)
        logits = model(tg.tensor(x))
        expected = reference(torch.from_numpy(x))
        np.testing.assert_allclose(logits.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
        model.zero_grad()
        reference.zero_grad()
        model.loss_from_logits(logits, y).backward()
        torch.nn.functional.cross_entropy(expected, torch.from_numpy(y)).backward()
        for (name, ours), theirs in zip(model.named_parameters(), reference.parameters()):
            if training and name in ("0.bias", "4.bias", "8.bias"):
                # a bias before batch norm has no effect on the output: its gradient is rounding noise
                assert np.abs(ours.grad.data).max() < 1e-5 and np.abs(theirs.grad.numpy()).max() < 1e-5
                continue
            np.testing.assert_allclose(
                ours.grad.data, theirs.grad.numpy(), rtol=1e-3, atol=1e-6, err_msg=name
            )
    back = CNN(rng=1)
    back.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value.numpy())


def test_cnn_takes_flat_rows_as_images_and_learns_a_batch():
    rng = np.random.default_rng(1)
    model = CNN(channels=(4, 8), hidden=16, rng=0)
    x = rng.random((16, 784), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    np.testing.assert_array_equal(model.eval()(x).data, model(x.reshape(16, 1, 28, 28)).data)
    model.train()
    optimizer = tg.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = model.loss(x, y, l2=1e-4)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_blocks_pool_while_the_side_is_even_and_the_state_dict_follows():
    assert block_pools(28, 4) == [True, True, False, False]  # 28 -> 14 -> 7, then 7x7
    assert block_pools(30, 2) == [True, False] and block_pools(7, 1) == [False]
    model = CNN(channels=(4, 8, 6), hidden=16, image_size=28, rng=0)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds[:11] == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"] * 2 + [
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
    ]
    assert model[12].weight.shape == (16, 6 * 7 * 7)
    assert model(np.zeros((2, 784), np.float32)).shape == (2, 10)
    config = TrainConfig(model="cnn", cnn={"channels": [4, 8, 6], "hidden": 16, "dropout": 0.3})
    expected = {key: np.shape(value) for key, value in model.state_dict().items()}
    assert {key: shape for key, (shape, _) in MODELS["cnn"].state(config).items()} == expected
    odd = CNN(channels=(4, 4), hidden=8, image_size=30, rng=0)  # 30 -> 15, which the second block keeps
    assert odd(np.zeros((1, 1, 30, 30), np.float32)).shape == (1, 10) and odd[8].weight.shape == (
        8,
        4 * 15 * 15,
    )


def test_a_gamma_curve_is_the_plain_cnn_on_curved_pixels():
    curved, plain = CNN(rng=0, input_gamma=0.5), CNN(rng=0)
    curved.eval(), plain.eval()
    x = np.random.default_rng(3).random((4, 1, 28, 28), dtype=np.float32)
    with tg.no_grad():
        np.testing.assert_array_equal(curved(x).data, plain(np.sqrt(x)).data)
        np.testing.assert_array_equal(curved(x.reshape(4, 784)).data, curved(x).data)  # flat rows too
    assert list(curved.state_dict()) == list(plain.state_dict())
    assert "input_gamma=0.5" in repr(curved) and "input_gamma" not in repr(plain)
    assert MODELS["cnn"].build(TrainConfig(model="cnn", input_gamma=0.7), 0).input_gamma == 0.7
