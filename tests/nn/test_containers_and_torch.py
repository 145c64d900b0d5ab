"""ModuleList, ModuleDict, the small layers and Module's tree walking, each against the PyTorch module of the
same structure: the same repr, the same names, and state dicts (parameters and buffers) that load both ways."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorgrad as tg
from tensorgrad import nn


def twin(library):
    """One model structure built with `library` (tensorgrad.nn or torch.nn)."""

    class Block(library.Module):
        def __init__(self):
            super().__init__()
            self.layers = library.ModuleList([library.Linear(4, 4) for _ in range(3)])
            self.layers.append(library.Linear(4, 2, bias=False))
            self.heads = library.ModuleDict(
                {"logits": library.LogSoftmax(dim=1), "probs": library.Softmax(dim=1)}
            )
            self.drop = library.Dropout(0.25)
            self.skip = library.Identity()
            self.register_buffer("running_mean", library_zeros(library, 2))
            self.register_buffer("scratch", library_zeros(library, 2), persistent=False)

    model = library.Sequential(library.Flatten(), Block(), library.Tanh())
    model.register_buffer("count", library_zeros(library, 1))
    return model


def library_zeros(library, n):
    return torch.zeros(n) if library is torch.nn else np.zeros(n, dtype=np.float32)


def test_repr_prints_the_module_tree_as_torch():
    ours, theirs = repr(twin(nn)), repr(twin(torch.nn))
    assert ours == theirs
    assert "(0-2): 3 x Linear(in_features=4, out_features=4, bias=True)" in ours  # a run printed once


def test_names_of_modules_children_parameters_and_buffers_match_torch():
    ours, theirs = twin(nn), twin(torch.nn)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # parameters, then buffers, module by module
    assert "1.scratch" not in ours.state_dict()  # a non-persistent buffer stays out


def test_state_dict_loads_into_the_torch_module_and_back():
    ours, theirs = twin(nn), twin(torch.nn)
    rng = np.random.default_rng(0)
    state = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    result = theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key], err_msg=key)

    back = twin(nn)
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(back[1].running_mean.data, state["1.running_mean"])
    x = rng.standard_normal((3, 2, 2)).astype(np.float32)
    block_ours, block_theirs = back[1], theirs[1]
    h_ours, h_theirs = back[0](x), block_theirs.layers[0](theirs[0](torch.from_numpy(x)))
    np.testing.assert_allclose(block_ours.layers[0](h_ours).data, h_theirs.detach().numpy(), rtol=1e-6)


def test_a_shared_module_is_in_the_state_dict_under_each_name_as_in_torch():
    layer, torch_layer = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours, theirs = (
        nn.Sequential(layer, nn.ReLU(), layer),
        torch.nn.Sequential(torch_layer, torch.nn.ReLU(), torch_layer),
    )
    assert (
        list(ours.state_dict()) == list(theirs.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    )
    assert len(list(ours.parameters())) == 2


def test_module_list_behaves_as_a_list_and_renumbers_after_deletion():
    a, b, c = nn.Linear(1, 1), nn.Tanh(), nn.ReLU()
    layers = nn.ModuleList([a, b])
    layers += [c]
    assert list(layers) == [a, b, c] and layers[-1] is c and len(layers) == 3
    assert list(layers[1:]) == [b, c] and isinstance(layers[1:], nn.ModuleList)
    del layers[0]
    assert [name for name, _ in layers.named_children()] == ["0", "1"] and layers[0] is b
    layers.insert(0, a)
    assert list(layers) == [a, b, c]
    assert layers.pop(1) is b and list(layers) == [a, c]
    layers[1] = b
    assert list(layers) == [a, b]
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(IndexError, match="index 5 is out of range for 2 modules"):
        layers[5]
    with pytest.raises(TypeError, match="is not a Module"):
        layers.append(np.zeros(2))
    with pytest.raises(NotImplementedError, match="ModuleList must define forward"):
        layers(np.zeros(1))


def test_module_dict_keeps_order_and_refuses_names_torch_refuses():
    heads = nn.ModuleDict([("b", nn.ReLU()), ("a", nn.Tanh())])
    heads.update({"c": nn.Sigmoid()})
    assert list(heads) == ["b", "a", "c"] and "a" in heads and len(heads) == 3
    assert isinstance(heads.pop("b"), nn.ReLU) and list(heads.keys()) == ["a", "c"]
    with pytest.raises(KeyError, match="attribute 'train' already exists"):
        heads["train"] = nn.ReLU()
    with pytest.raises(KeyError, match=r"contain no '\.'"):
        heads["a.b"] = nn.ReLU()
    heads.clear()
    assert len(heads) == 0 and repr(heads) == repr(torch.nn.ModuleDict()) == "ModuleDict()"


def test_apply_visits_children_first_then_the_module_as_torch():
    ours, theirs = twin(nn), twin(torch.nn)
    visited_ours, visited_theirs = [], []
    assert ours.apply(lambda m: visited_ours.append(type(m).__name__)) is ours
    theirs.apply(lambda m: visited_theirs.append(type(m).__name__))
    assert visited_ours == visited_theirs


def test_apply_initializes_every_linear_layer():
    model = twin(nn)

    def init(module):
        if isinstance(module, nn.Linear):
            module.weight.data[...] = 0.5

    model.apply(init)
    assert all(np.all(layer.weight.data == 0.5) for layer in model[1].layers)


def test_requires_grad_false_freezes_every_parameter():
    model = twin(nn)
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model[1].layers[3].requires_grad_()
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["1.layers.3.weight"]


def test_softmax_and_log_softmax_modules_match_torch():
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    for dim in (0, 1, -1):
        for ours, theirs in (
            (nn.Softmax(dim), torch.nn.Softmax(dim)),
            (nn.LogSoftmax(dim), torch.nn.LogSoftmax(dim)),
        ):
            np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).numpy(), rtol=1e-12)
            assert repr(ours) == repr(theirs)


def test_identity_and_flatten_as_torch():
    x = tg.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert nn.Identity(54, unused="argument")(x) is x
    flatten = nn.Flatten(0, 1)
    assert flatten(x).shape == (6, 4) and repr(flatten) == repr(torch.nn.Flatten(0, 1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss_module_matches_torch(reduction):
    rng = np.random.default_rng(2)
    logits, target = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    ours = nn.CrossEntropyLoss(reduction=reduction)(logits, target)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction)(
        torch.from_numpy(logits), torch.from_numpy(target)
    )
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())


def test_cross_entropy_loss_keeps_its_class_weight_as_a_buffer_as_torch():
    weight = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    ours, theirs = nn.CrossEntropyLoss(weight), torch.nn.CrossEntropyLoss(torch.from_numpy(weight))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == list(torch.nn.CrossEntropyLoss().state_dict()) == []
