"""nn.Module, the layers, and nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.models import MLP


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4, rng=0)
        self.act = nn.Tanh()
        self.second = nn.Linear(4, 2, bias=False, rng=1)
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.not_a_parameter = np.zeros(3)

    def forward(self, x):
        return self.second(self.act(self.first(x))) * self.scale


def test_attribute_assignment_registers_parameters_and_submodules_in_order():
    model = TwoLayer()
    assert [name for name, _ in model.named_parameters()] == [
        "scale",
        "first.weight",
        "first.bias",
        "second.weight",
    ]
    assert [name for name, _ in model.named_modules()] == ["", "first", "act", "second"]
    assert all(p.requires_grad for p in model.parameters())


def test_reassigning_or_deleting_an_attribute_unregisters_it():
    model = TwoLayer()
    model.scale = None
    del model.act
    assert "scale" not in dict(model.named_parameters())
    assert "act" not in dict(model.named_modules())


def test_assignment_before_init_names_the_fix():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgetful()


def test_a_shared_parameter_is_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2


def test_sequential_state_dict_keys_match_torch():
    model = MLP(rng=0)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes["0.weight"] == (196, 784) and shapes["6.bias"] == (10,)


def test_state_dict_is_a_copy_and_load_state_dict_writes_in_place():
    model = MLP(sizes=(4, 3, 2), rng=0)
    state = model.state_dict()
    weight = model[0].weight.data
    state["0.weight"] += 1
    assert not np.array_equal(model[0].weight.data, state["0.weight"])
    model.load_state_dict(state)
    np.testing.assert_array_equal(model[0].weight.data, state["0.weight"])
    assert model[0].weight.data is weight  # in place: optimizers holding views keep working


def test_load_state_dict_errors_name_keys_and_shapes():
    model = MLP(sizes=(4, 3, 2), rng=0)
    state = model.state_dict()
    del state["0.bias"]
    state["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"missing keys \['0.bias'\].*unexpected keys \['extra'\]"):
        model.load_state_dict(state)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra"]
    bad = model.state_dict()
    bad["3.weight"] = np.zeros((5, 5))
    with pytest.raises(ValueError, match=r"3.weight has shape \(5, 5\).*\(2, 3\)"):
        model.load_state_dict(bad)


def test_load_state_dict_keeps_the_parameter_dtype():
    model = MLP(sizes=(4, 3, 2), rng=0)
    state = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_train_and_eval_switch_dropout_everywhere():
    model = MLP(sizes=(50, 40, 2), keep_prob=0.5, rng=0)
    x = np.ones((8, 50), dtype=np.float32)
    model.eval()
    assert not any(m.training for m in model.modules())
    np.testing.assert_array_equal(model(x).data, model(x).data)  # no dropout: deterministic
    model.train()
    assert all(m.training for m in model.modules())
    assert not np.array_equal(model(x).data, model(x).data)


def test_linear_uses_he_init_and_zero_bias():
    layer = nn.Linear(1000, 500, rng=0)
    assert layer.weight.shape == (500, 1000) and layer.weight.dtype == np.float32
    assert layer.weight.data.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    assert abs(layer.weight.data.mean()) < 1e-3
    np.testing.assert_array_equal(layer.bias.data, 0)


def test_linear_computes_x_weight_transpose_plus_bias():
    layer = nn.Linear(3, 2, rng=0)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-6)


def test_same_rng_seed_gives_the_same_model():
    a, b = MLP(rng=5), MLP(rng=5)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)


def test_parameter_requires_float_data():
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.arange(3))


def test_module_zero_grad():
    model = MLP(sizes=(4, 3, 2), rng=0)
    model.loss(np.ones((2, 4), np.float32), np.array([0, 1])).backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_lists_layers_like_torch():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in text and "(1): ReLU()" in text


def test_flatten_merges_trailing_axes():
    out = nn.Flatten()(np.zeros((5, 28, 28), np.float32))
    assert out.shape == (5, 784)


def test_clip_grad_norm_scales_all_gradients_to_max_norm():
    a = tg.tensor([3.0, 0.0], requires_grad=True)
    b = tg.tensor([[0.0, 4.0]], requires_grad=True)
    a.grad, b.grad = tg.tensor([3.0, 0.0]), tg.tensor([[0.0, 4.0]])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    joint = math.sqrt((a.grad.data**2).sum() + (b.grad.data**2).sum())
    assert joint == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad.data / b.grad.data[0, 1], [0.75, 0.0])


def test_total_grad_norm_is_the_joint_norm_of_the_gradients_that_exist():
    a, b, c = (tg.tensor([0.0, 0.0], requires_grad=True) for _ in range(3))
    a.grad, b.grad = tg.tensor([3.0, 0.0]), tg.tensor([0.0, 4.0])  # c has no gradient
    assert nn.utils.total_grad_norm([a, b, c]) == pytest.approx(5.0)
    assert nn.utils.total_grad_norm([c]) == 0.0


def test_clip_grad_norm_leaves_small_gradients_alone():
    a = tg.tensor([0.3, 0.4], requires_grad=True)
    a.grad = tg.tensor([0.3, 0.4])
    assert nn.utils.clip_grad_norm_([a], max_norm=1.0).item() == pytest.approx(0.5)
    np.testing.assert_allclose(a.grad.data, [0.3, 0.4])


def test_clip_grad_norm_can_refuse_non_finite_gradients():
    a = tg.tensor([1.0], requires_grad=True)
    a.grad = tg.tensor([np.inf])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
