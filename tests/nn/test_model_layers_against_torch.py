"""The layers and loss modules of real models against PyTorch's: same state_dict keys and shapes, the same
outputs and gradients from the same weights, and state dicts that load both ways."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorgrad as tg
from tensorgrad import nn


@pytest.fixture
def rng():
    return np.random.default_rng(0)


LAYERS = {
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (4, 5)),
    "GELU": (lambda: nn.GELU(), lambda: torch.nn.GELU(), (4, 5)),
    "GELU-tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh"), (4, 5)),
    "SiLU": (lambda: nn.SiLU(), lambda: torch.nn.SiLU(), (4, 5)),
    "Softplus": (lambda: nn.Softplus(2.0, 3.0), lambda: torch.nn.Softplus(2.0, 3.0), (4, 5)),
    "LayerNorm": (lambda: nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5), (3, 4, 5)),
    "LayerNorm-2d": (lambda: nn.LayerNorm((4, 5)), lambda: torch.nn.LayerNorm((4, 5)), (3, 4, 5)),
    "LayerNorm-no-bias": (
        lambda: nn.LayerNorm(5, bias=False),
        lambda: torch.nn.LayerNorm(5, bias=False),
        (2, 5),
    ),
}


def _torch_weights(tg_module, torch_module, rng):
    """Random weights (not the initial ones, which are often all ones) into both modules."""
    state = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in tg_module.state_dict().items()}
    tg_module.load_state_dict(state)
    torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_torch_in_values_gradients_and_state_dict_keys(name, rng):
    make_tg, make_torch, shape = LAYERS[name]
    ours, theirs = make_tg(), make_torch().to(torch.float32)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _torch_weights(ours, theirs, rng)
    data = rng.standard_normal(shape).astype(np.float32) * 3
    x = tg.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    out, tout = ours(x), theirs(tx)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    weights = rng.standard_normal(shape).astype(np.float32)
    (out * tg.tensor(weights)).sum().backward()
    (tout * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (key, param), (_, tparam) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(param.grad.data, tparam.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=key)
    assert repr(ours) == repr(theirs)


def test_layer_norm_starts_at_ones_and_zeros_as_torch():
    ours = nn.LayerNorm(3)
    np.testing.assert_array_equal(ours.weight.data, np.ones(3, np.float32))
    np.testing.assert_array_equal(ours.bias.data, np.zeros(3, np.float32))
    assert nn.LayerNorm(3, elementwise_affine=False).state_dict() == {}


def test_embedding_matches_torch_and_its_padding_row_is_zero_and_gets_no_gradient(rng):
    ours = nn.Embedding(10, 4, padding_idx=-1, rng=0)
    theirs = torch.nn.Embedding(10, 4, padding_idx=9)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    np.testing.assert_array_equal(ours.weight.data[9], np.zeros(4, np.float32))
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    indices = np.array([[1, 9, 3], [3, 3, 0]])
    out, tout = ours(tg.tensor(indices)), theirs(torch.from_numpy(indices))
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(ours.weight.grad.data, theirs.weight.grad.numpy())
    assert ours.weight.grad.data[9].tolist() == [0, 0, 0, 0] and ours.weight.grad.data[3].tolist() == [3] * 4
    assert repr(ours) == repr(theirs)


LOSSES = {
    "MSELoss": (nn.MSELoss, torch.nn.MSELoss, {}, "real"),
    "L1Loss": (nn.L1Loss, torch.nn.L1Loss, {}, "real"),
    "SmoothL1Loss": (nn.SmoothL1Loss, torch.nn.SmoothL1Loss, {"beta": 0.5}, "real"),
    "HuberLoss": (nn.HuberLoss, torch.nn.HuberLoss, {"delta": 0.7}, "real"),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss, {}, "binary"),
    "BCELoss": (nn.BCELoss, torch.nn.BCELoss, {}, "probability"),
    "NLLLoss": (nn.NLLLoss, torch.nn.NLLLoss, {}, "classes"),
    "CrossEntropyLoss": (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, {"label_smoothing": 0.1}, "classes"),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_module_matches_torch(name, reduction, rng):
    ours_class, theirs_class, options, kind = LOSSES[name]
    data = rng.standard_normal((6, 4))
    if kind == "classes":
        target = rng.integers(0, 4, 6)
        if name == "NLLLoss":
            data = data - np.log(np.exp(data).sum(axis=1, keepdims=True))
    elif kind == "binary":
        target = rng.integers(0, 2, (6, 4)).astype(np.float64)
    elif kind == "probability":
        data = 1 / (1 + np.exp(-data))
        target = rng.uniform(0, 1, (6, 4))
    else:
        target = rng.standard_normal((6, 4))
    x, tx = tg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    loss = ours_class(reduction=reduction, **options)(x, tg.tensor(target))
    tloss = theirs_class(reduction=reduction, **options)(tx, torch.from_numpy(target))
    np.testing.assert_allclose(loss.data, tloss.detach().numpy(), rtol=1e-10, atol=1e-12)
    seed = rng.standard_normal(loss.shape)
    loss.backward(seed)
    tloss.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_weighted_loss_modules_keep_their_weights_as_buffers_as_torch():
    weight = tg.tensor(np.array([1.0, 2.0, 0.5]))
    for ours, theirs in [
        (nn.NLLLoss(weight), torch.nn.NLLLoss(torch.tensor([1.0, 2.0, 0.5]))),
        (nn.CrossEntropyLoss(weight), torch.nn.CrossEntropyLoss(torch.tensor([1.0, 2.0, 0.5]))),
        (nn.BCEWithLogitsLoss(pos_weight=weight), torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(3))),
    ]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert list(ours.parameters()) == []
