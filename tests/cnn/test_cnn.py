"""models.CNN: its size, and its state dict carried into the equivalent torch.nn.Sequential."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorgrad as tg
from tensorgrad.models import CNN


def torch_cnn():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )  # fmt: skip


def test_cnn_has_fewer_than_500k_parameters():
    model = CNN(rng=0)
    assert sum(p.size for p in model.parameters()) == 421_834


def test_cnn_state_dict_loads_into_torch_sequential_and_both_compute_the_same():
    model, reference = CNN(rng=0), torch_cnn()
    reference.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    model[11].p = reference[11].p = 0.0  # no dropout: the two would draw different masks
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
            if training and name in ("0.bias", "4.bias"):
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


def test_cnn_rejects_an_image_size_its_pooling_cannot_halve():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*2"):
        CNN(image_size=30)
