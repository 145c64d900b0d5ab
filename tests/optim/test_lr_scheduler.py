"""Every learning-rate schedule: 100 steps equal PyTorch's and the published formula; state dicts load into
PyTorch's schedulers and back and continue the same curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tensorgrad as tg
from tensorgrad import optim
from tensorgrad.optim import lr_scheduler

STEPS = 100
BASE_LRS = (0.1, 0.02)  # two parameter groups, so per-group rates are exercised


def _two_groups(module, params, name="SGD", **options):
    groups = [{"params": [params[0]], "lr": BASE_LRS[0]}, {"params": [params[1]], "lr": BASE_LRS[1]}]
    return getattr(module, name)(groups, **options)


def optimizers(name="SGD", **options):
    """The same two-group optimizer in tensorgrad and in PyTorch."""
    ours = _two_groups(optim, [tg.tensor(np.zeros(2), requires_grad=True) for _ in range(2)], name, **options)
    theirs = _two_groups(torch.optim, [torch.zeros(2, requires_grad=True) for _ in range(2)], name, **options)
    return ours, theirs


def build(module, opt, kind: str, kwargs: dict):
    """Schedulers by description; "sequential" is a LinearLR warm-up then the schedule in kwargs["then"]."""
    schedulers = module.lr_scheduler if module is torch.optim else lr_scheduler
    if kind == "SequentialLR":
        warmup = schedulers.LinearLR(opt, start_factor=0.1, total_iters=kwargs["warmup"])
        then_kind, then_kwargs = kwargs["then"]
        then = getattr(schedulers, then_kind)(opt, **then_kwargs)
        return schedulers.SequentialLR(opt, [warmup, then], milestones=[kwargs["warmup"]])
    return getattr(schedulers, kind)(opt, **kwargs)


def curve(scheduler, opt, steps=STEPS) -> list:
    """The learning rates of each group after construction and after each of `steps` steps."""
    rates = [scheduler.get_last_lr()]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
    return rates


def one_cycle(t, total=STEPS, peak=0.1, pct=0.3, div=25.0, final_div=1e4):
    """Smith's one-cycle rate at step t (cosine annealing, two phases), written from its definition."""
    start, low = peak / div, peak / div / final_div
    rise_end = pct * total - 1
    if t <= rise_end:  # cosine from start up to peak
        return peak + (start - peak) * (1 + math.cos(math.pi * t / rise_end)) / 2
    fraction = (t - rise_end) / (total - 1 - rise_end)
    return low + (peak - low) * (1 + math.cos(math.pi * fraction)) / 2


# (scheduler, its arguments, the rate of group 0 at step t from the published formula)
SCHEDULES = [
    ("StepLR", {"step_size": 30}, lambda t, b: b * 0.1 ** (t // 30)),
    ("StepLR", {"step_size": 7, "gamma": 0.5}, lambda t, b: b * 0.5 ** (t // 7)),
    (
        "MultiStepLR",
        {"milestones": [20, 50, 50, 80]},
        lambda t, b: b * 0.1 ** sum(t >= m for m in (20, 50, 50, 80)),
    ),
    ("ExponentialLR", {"gamma": 0.95}, lambda t, b: b * 0.95**t),
    ("CosineAnnealingLR", {"T_max": 100}, lambda t, b: b * (1 + math.cos(math.pi * t / 100)) / 2),
    (
        "CosineAnnealingLR",
        {"T_max": 30, "eta_min": 0.001},  # past T_max the rate rises again (PyTorch's periodic form)
        lambda t, b: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * t / 30)) / 2,
    ),
    ("LinearLR", {}, lambda t, b: b * (1 / 3 + (1 - 1 / 3) * min(t, 5) / 5)),
    (
        "LinearLR",
        {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 60},
        lambda t, b: b * (1.0 - 0.9 * min(t, 60) / 60),
    ),
    ("LambdaLR", {"lr_lambda": lambda epoch: 1 / (1 + epoch)}, lambda t, b: b / (1 + t)),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": STEPS}, lambda t, b: one_cycle(t)),
    (
        "OneCycleLR",
        {"max_lr": [0.1, 0.05], "total_steps": STEPS, "anneal_strategy": "linear", "three_phase": True},
        None,  # three linear phases: compared with PyTorch only
    ),
    (
        "SequentialLR",
        {"warmup": 5, "then": ("CosineAnnealingLR", {"T_max": 95})},
        lambda t, b: b * (0.1 + 0.9 * t / 5) if t < 5 else b * (1 + math.cos(math.pi * (t - 5) / 95)) / 2,
    ),
    (
        "SequentialLR",
        {"warmup": 10, "then": ("StepLR", {"step_size": 40})},
        lambda t, b: b * (0.1 + 0.9 * t / 10) if t < 10 else b * 0.1 ** ((t - 10) // 40),
    ),
]
IDS = [f"{kind}-{i}" for i, (kind, _, _) in enumerate(SCHEDULES)]


@pytest.mark.parametrize(("kind", "kwargs", "formula"), SCHEDULES, ids=IDS)
def test_100_steps_equal_torch_and_the_formula(kind, kwargs, formula):
    ours, theirs = optimizers()
    our_curve = curve(build(optim, ours, kind, kwargs), ours)
    their_curve = curve(build(torch.optim, theirs, kind, kwargs), theirs)
    np.testing.assert_allclose(our_curve, their_curve, rtol=1e-13, atol=0)
    assert [g["lr"] for g in ours.param_groups] == our_curve[-1]
    if formula is not None:
        expected = [formula(t, BASE_LRS[0]) for t in range(STEPS + 1)]
        np.testing.assert_allclose([rates[0] for rates in our_curve], expected, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(("name", "key"), [("SGD", "momentum"), ("Adam", "betas")])
def test_one_cycle_moves_momentum_or_beta1_against_the_rate_as_torch(name, key):
    options = {"momentum": 0.9} if name == "SGD" else {}
    ours, theirs = optimizers(name, **options)
    schedulers = [
        module.OneCycleLR(opt, max_lr=0.1, total_steps=STEPS)
        for module, opt in ((lr_scheduler, ours), (torch.optim.lr_scheduler, theirs))
    ]
    for t in range(STEPS):
        momenta = [opt.param_groups[0][key] for opt in (ours, theirs)]
        assert momenta[0] == pytest.approx(momenta[1], rel=1e-13)
        if t == 0:
            assert momenta[0] in (0.95, (0.95, 0.999))  # max_momentum while the rate is lowest
        for opt, scheduler in zip((ours, theirs), schedulers):
            opt.step()
            scheduler.step()
    assert ours.param_groups[0]["max_momentum"] == 0.95 and ours.param_groups[0]["base_momentum"] == 0.85


def test_one_cycle_refuses_to_step_past_total_steps_and_optimizers_without_momentum():
    opt, _ = optimizers()
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3, cycle_momentum=False)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="past total_steps=3"):
        scheduler.step()
    momentum = optim.Momentum([tg.tensor(np.zeros(2), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="momentum or betas"):
        lr_scheduler.OneCycleLR(momentum, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="pct_start must be a float"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1)


def test_the_constructor_takes_the_initial_step_as_torch():
    opt, _ = optimizers()
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    assert scheduler.last_epoch == 0 and scheduler._step_count == 1
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE_LRS) == scheduler.base_lrs
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=4)
    assert warmup.get_last_lr() == [0.05, 0.01]  # set in the optimizer at once, before any step
    with pytest.warns(UserWarning, match="get_last_lr"):
        warmup.get_lr()


def test_resuming_at_last_epoch_needs_initial_lr_in_the_groups():
    param = tg.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([param], lr=0.1), step_size=2, last_epoch=4)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)


def test_sequential_lr_checks_its_schedulers():
    opt, _ = optimizers()
    other, _ = optimizers()
    warmup = lr_scheduler.LinearLR(opt)
    with pytest.raises(ValueError, match="2 schedulers need 1 milestones, got 0"):
        lr_scheduler.SequentialLR(opt, [warmup, lr_scheduler.ExponentialLR(opt, 0.9)], milestones=[])
    with pytest.raises(ValueError, match="another optimizer"):
        lr_scheduler.SequentialLR(opt, [warmup, lr_scheduler.ExponentialLR(other, 0.9)], milestones=[3])


@pytest.mark.parametrize(("kind", "kwargs", "formula"), SCHEDULES, ids=IDS)
def test_state_dict_loads_into_torch_and_back_and_continues_the_curve(kind, kwargs, formula):
    """30 steps in one library, the optimizer's and scheduler's states into the other, 30 more steps there."""
    ours, theirs = optimizers()
    our_scheduler, their_scheduler = (
        build(optim, ours, kind, kwargs),
        build(torch.optim, theirs, kind, kwargs),
    )
    curve(our_scheduler, ours, 30)
    curve(their_scheduler, theirs, 30)
    our_state, their_state = our_scheduler.state_dict(), their_scheduler.state_dict()
    # the same keys, but PyTorch's flag for a warning it gives from inside get_lr
    assert set(our_state) == set(their_state) - {"_get_lr_called_within_step"}
    if kind == "SequentialLR":
        for inner_ours, inner_theirs in zip(our_state["_schedulers"], their_state["_schedulers"]):
            assert set(inner_ours) == set(inner_theirs) - {"_get_lr_called_within_step"}

    # fresh pairs, each given the other library's states
    ours_b, theirs_b = optimizers()
    our_scheduler_b, their_scheduler_b = (
        build(optim, ours_b, kind, kwargs),
        build(torch.optim, theirs_b, kind, kwargs),
    )
    theirs_b.load_state_dict({"state": {}, "param_groups": ours.state_dict()["param_groups"]})
    their_scheduler_b.load_state_dict(our_state)
    ours_b.load_state_dict(theirs.state_dict())
    our_scheduler_b.load_state_dict(their_state)
    expected = curve(our_scheduler, ours, 30)
    np.testing.assert_allclose(curve(their_scheduler_b, theirs_b, 30), expected, rtol=1e-13)
    np.testing.assert_allclose(curve(our_scheduler_b, ours_b, 30), expected, rtol=1e-13)


def test_lambda_lr_state_dict_keeps_a_callable_objects_attributes():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    opt, _ = optimizers()
    scheduler = lr_scheduler.LambdaLR(opt, [Decay(0.5), lambda epoch: 1.0])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    state["lr_lambdas"][0]["rate"] = 0.25
    scheduler.load_state_dict(state)
    scheduler.step()
    assert scheduler.get_last_lr() == [0.1 * 0.25, 0.02]
