"""Every optimizer against PyTorch's on the same numbers: five steps, parameter groups, and state dicts that
load into the PyTorch optimizer and back with the same next step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorgrad as tg
from tensorgrad import optim

STEPS = 5
SHAPES = [(4, 3), (3,), (2, 2, 2)]

# (optimizer name, options): each shared by tensorgrad.optim and torch.optim
CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.3}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.3, "eps": 1e-6}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in options.items()) or 'defaults'}" for name, options in CASES]
# PyTorch options tensorgrad leaves out (it accepts them only at these defaults)
TORCH_ONLY = {"maximize", "foreach", "capturable", "differentiable", "fused"}


def problem(seed=0):
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape) for shape in SHAPES]
    grads = [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(2 * STEPS)]
    return initial, grads


def pair(name, options, initial, groups=None):
    """The same parameters and optimizer in tensorgrad and in PyTorch; `groups(params)` makes param groups."""
    ours = [tg.tensor(a.copy(), requires_grad=True) for a in initial]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in initial]
    make = groups or (lambda params: params)
    return (ours, getattr(optim, name)(make(ours), **options)), (
        theirs,
        getattr(torch.optim, name)(make(theirs), **options),
    )


def step_both(ours, theirs, grads):
    (our_params, our_opt), (their_params, their_opt) = ours, theirs
    for p, q, g in zip(our_params, their_params, grads):
        p.grad = tg.tensor(g.copy())
        q.grad = torch.tensor(g.copy())
    our_opt.step()
    their_opt.step()


def assert_same_parameters(ours, theirs, rtol=1e-12):
    for p, q in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=1e-14)


def to_torch(state: dict) -> dict:
    """Our state dict with its arrays as tensors, which is what torch's load_state_dict takes."""
    return {
        "state": {
            i: {k: torch.as_tensor(v) for k, v in entry.items()} for i, entry in state["state"].items()
        },
        "param_groups": state["param_groups"],
    }


@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_five_steps_match_torch(name, options):
    initial, grads = problem()
    ours, theirs = pair(name, options, initial)
    for step_grads in grads[:STEPS]:
        step_both(ours, theirs, step_grads)
        assert_same_parameters(ours, theirs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_param_groups_without_weight_decay_on_biases_match_torch(name):
    """Weights decay, biases (1-d parameters) do not and take a smaller learning rate, as in PyTorch."""
    initial, grads = problem(1)

    def groups(params):
        return [
            {"params": [p for p in params if p.ndim > 1]},
            {"params": [p for p in params if p.ndim == 1], "weight_decay": 0.0, "lr": 0.003},
        ]

    ours, theirs = pair(name, {"lr": 0.01, "weight_decay": 0.5}, initial, groups)
    assert [g["weight_decay"] for g in ours[1].param_groups] == [0.5, 0.0]
    assert [g["lr"] for g in ours[1].param_groups] == [0.01, 0.003]
    for step_grads in grads[:STEPS]:
        step_both(ours, theirs, step_grads)
        assert_same_parameters(ours, theirs)


def test_a_bias_without_weight_decay_moves_by_its_gradient_alone():
    bias = tg.tensor(np.ones(3), requires_grad=True)
    weight = tg.tensor(np.ones((2, 3)), requires_grad=True)
    opt = optim.SGD([{"params": [weight]}, {"params": [bias], "weight_decay": 0.0}], lr=0.1, weight_decay=1.0)
    weight.grad, bias.grad = tg.tensor(np.zeros((2, 3))), tg.tensor(np.zeros(3))
    opt.step()
    np.testing.assert_array_equal(bias.data, 1.0)  # no gradient, no decay
    np.testing.assert_allclose(weight.data, 0.9)  # decayed by lr * weight_decay


@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_state_dict_loads_into_torch_and_back_with_the_same_next_step(name, options):
    initial, grads = problem(2)
    ours, theirs = pair(name, options, initial)
    for step_grads in grads[:3]:
        step_both(ours, theirs, step_grads)
    ours_state, theirs_state = ours[1].state_dict(), theirs[1].state_dict()
    assert ours_state["state"].keys() == theirs_state["state"].keys()
    for i, entry in theirs_state["state"].items():
        assert ours_state["state"][i].keys() == entry.keys()
        for key, value in entry.items():
            assert ours_state["state"][i][key].shape == tuple(value.shape), key
    for our_group, their_group in zip(ours_state["param_groups"], theirs_state["param_groups"]):
        assert set(their_group) - set(our_group) <= TORCH_ONLY
        assert set(our_group) <= set(their_group)

    # tensorgrad's state into a fresh torch optimizer, torch's into a fresh tensorgrad one, on the current values
    current = [p.data.copy() for p in ours[0]]
    ours_fresh, theirs_fresh = pair(name, {**options, "lr": 123.0}, current)
    theirs_fresh[1].load_state_dict(to_torch(ours_state))
    ours_fresh[1].load_state_dict(theirs_state)
    for step_grads in grads[3:6]:
        step_both(ours, theirs_fresh, step_grads)
        step_both(ours_fresh, theirs, [g.copy() for g in step_grads])
        assert_same_parameters(ours, theirs_fresh, rtol=1e-10)
        assert_same_parameters(ours_fresh, theirs, rtol=1e-10)


def test_state_dict_of_a_parameter_that_never_stepped_is_absent_as_in_torch():
    initial, grads = problem(3)
    ours, theirs = pair("Adam", {"lr": 0.01}, initial)
    for (params, _), make in ((ours, tg.tensor), (theirs, torch.tensor)):
        for p, g in zip(params, grads[0]):
            p.grad = make(g.copy())
        params[1].grad = None
    ours[1].step()
    theirs[1].step()
    assert list(ours[1].state_dict()["state"]) == list(theirs[1].state_dict()["state"]) == [0, 2]


def test_optimizer_repr_prints_the_groups_as_torch_does():
    param = tg.tensor(np.zeros(2), requires_grad=True)
    expected = "SGD (\nParameter Group 0\n    dampening: 0.5\n    lr: 0.1\n    momentum: 0.9\n    nesterov: False\n    weight_decay: 0.0\n)"
    assert repr(optim.SGD([param], lr=0.1, momentum=0.9, dampening=0.5)) == expected


def test_unsupported_torch_options_are_refused_unless_at_torch_defaults():
    param = tg.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"maximize=True is not supported \(only maximize=False\)"):
        optim.Adam([{"params": [param], "maximize": True}])
    with pytest.raises(ValueError, match="amsgrad=True is not implemented"):
        optim.Adam([param], amsgrad=True)
    opt = optim.Adam([{"params": [param], "maximize": False, "foreach": None}])
    assert "maximize" not in opt.param_groups[0] and "foreach" not in opt.param_groups[0]


def test_group_options_are_checked():
    param = tg.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="lr, eps and weight_decay must be >= 0"):
        optim.AdamW([{"params": [param], "weight_decay": -1.0}])
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        optim.RMSprop([param], alpha=-0.5)
    with pytest.raises(ValueError, match="lr_decay must be >= 0"):
        optim.Adagrad([param], lr_decay=-0.1)
    with pytest.raises(ValueError, match="same parameter more than once"):
        optim.SGD([{"params": [param]}, {"params": [param]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collection"):
        optim.SGD([{"params": {param}}], lr=0.1)


def test_changing_a_groups_betas_between_steps_matches_torch():
    """OneCycleLR cycles Adam's beta1; tensorgrad rescales its decayed sums when the betas change."""
    initial, grads = problem(4)
    ours, theirs = pair("Adam", {"lr": 0.01}, initial)
    for t, step_grads in enumerate(grads[:STEPS]):
        for opt in (ours[1], theirs[1]):
            opt.param_groups[0]["betas"] = (0.95 - 0.02 * t, 0.999 - 0.001 * t)
        step_both(ours, theirs, step_grads)
        assert_same_parameters(ours, theirs, rtol=1e-10)


def test_add_param_group_keeps_the_state_of_the_existing_parameters():
    initial, grads = problem(5)
    ours, theirs = pair("Adam", {"lr": 0.01}, initial, groups=lambda params: params[:2])
    for step_grads in grads[:2]:
        step_both((ours[0][:2], ours[1]), (theirs[0][:2], theirs[1]), step_grads[:2])
    ours[1].add_param_group({"params": [ours[0][2]], "lr": 0.05})
    theirs[1].add_param_group({"params": [theirs[0][2]], "lr": 0.05})
    assert np.shares_memory(ours[0][2].data, ours[1].flat.data)
    for step_grads in grads[2:STEPS]:
        step_both(ours, theirs, step_grads)
        assert_same_parameters(ours, theirs, rtol=1e-10)
