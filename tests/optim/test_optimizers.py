"""Each optimizer against its update rule written out in NumPy, step by step."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import optim

STEPS = 5


def make_problem(seed=0, dtype=np.float64):
    """Parameters of three shapes and a fixed sequence of gradients for them."""
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    params = [tg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(STEPS)]
    return params, grads


def run(optimizer_cls, params, grads, **kwargs):
    opt = optimizer_cls(params, **kwargs)
    for step_grads in grads:
        opt.zero_grad()
        for p, g in zip(params, step_grads):
            p.grad = tg.tensor(g)
        opt.step()
    return [p.data.copy() for p in params]


def test_sgd_matches_plain_gradient_descent():
    params, grads = make_problem()
    expected = [p.data.copy() for p in params]
    for step_grads in grads:
        expected = [p - 0.1 * g for p, g in zip(expected, step_grads)]
    got = run(optim.SGD, params, grads, lr=0.1)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_and_weight_decay_match_torch_formula(nesterov):
    lr, mu, wd = 0.05, 0.9, 0.01
    params, grads = make_problem()
    expected = [p.data.copy() for p in params]
    buffers = [None] * len(params)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            g = g + wd * expected[i]
            buffers[i] = g.copy() if buffers[i] is None else mu * buffers[i] + g
            update = g + mu * buffers[i] if nesterov else buffers[i]
            expected[i] = expected[i] - lr * update
    got = run(optim.SGD, params, grads, lr=lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def test_sgd_dampening_applies_after_the_first_step():
    lr, mu, damp = 0.1, 0.5, 0.3
    params, grads = make_problem()
    expected = [p.data.copy() for p in params]
    buffers = [None] * len(params)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            buffers[i] = g.copy() if buffers[i] is None else mu * buffers[i] + (1 - damp) * g
            expected[i] = expected[i] - lr * buffers[i]
    got = run(optim.SGD, params, grads, lr=lr, momentum=mu, dampening=damp)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def test_momentum_matches_the_papers_exponential_average():
    lr, beta = 0.1, 0.8
    params, grads = make_problem()
    expected = [p.data.copy() for p in params]
    velocity = [np.zeros_like(p) for p in expected]
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            velocity[i] = beta * velocity[i] + (1 - beta) * g
            expected[i] = expected[i] - lr * velocity[i]
    got = run(optim.Momentum, params, grads, lr=lr, beta=beta)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_torch_formula_with_bias_correction(weight_decay):
    lr, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    params, grads = make_problem()
    expected = [p.data.copy() for p in params]
    m = [np.zeros_like(p) for p in expected]
    v = [np.zeros_like(p) for p in expected]
    for t, step_grads in enumerate(grads, start=1):
        for i, g in enumerate(step_grads):
            g = g + weight_decay * expected[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            expected[i] = expected[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    got = run(optim.Adam, params, grads, lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_adam_keeps_float32_parameters_float32():
    params, grads = make_problem(dtype=np.float32)
    run(optim.Adam, params, grads, lr=0.01)
    assert all(p.dtype == np.float32 for p in params)


def test_a_parameter_without_gradient_is_left_alone_and_keeps_its_own_step_count():
    params, grads = make_problem()
    opt = optim.Adam(params, lr=0.1)
    frozen_before = params[1].data.copy()
    for p, g in zip(params, grads[0]):
        p.grad = tg.tensor(g)
    params[1].grad = None
    opt.step()
    np.testing.assert_array_equal(params[1].data, frozen_before)
    assert opt.steps.tolist() == [1, 0, 1]
    # its first real step is a first step (bias correction with t=1): |update| = lr for each element
    for p, g in zip(params, grads[1]):
        p.grad = tg.tensor(g)
    opt.step()
    np.testing.assert_allclose(np.abs(params[1].data - frozen_before), 0.1, rtol=1e-6)
    assert opt.steps.tolist() == [2, 1, 2]


def test_parameter_data_are_views_of_one_flat_buffer_and_updates_land_in_place():
    params, _ = make_problem()
    opt = optim.SGD(params, lr=1.0)
    assert all(np.shares_memory(p.data, opt.flat.data) for p in params)
    before = params[0].data.copy()
    params[0].grad = tg.tensor(np.ones((4, 3)))
    opt.step()
    np.testing.assert_allclose(params[0].data, before - 1)


def test_replacing_a_parameters_data_after_creation_is_picked_up():
    params, _ = make_problem()
    opt = optim.SGD(params, lr=1.0)
    params[0].data = np.zeros((4, 3))
    params[0].grad = tg.tensor(np.ones((4, 3)))
    opt.step()
    np.testing.assert_allclose(params[0].data, -1.0)
    assert np.shares_memory(params[0].data, opt.flat.data)


def test_optimizer_state_dict_round_trip_continues_identically():
    """float32 moments survive the trip through PyTorch's layout bit for bit (it holds them in float64)."""
    params_a, grads = make_problem(dtype=np.float32)
    params_b, _ = make_problem(dtype=np.float32)
    opt_a = optim.Adam(params_a, lr=0.01)
    for p, g in zip(params_a, grads[0]):
        p.grad = tg.tensor(g)
    opt_a.step()
    state = opt_a.state_dict()
    assert sorted(state) == ["param_groups", "state"]
    assert sorted(state["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert state["state"][0]["exp_avg"].shape == (4, 3) and state["state"][0]["step"] == 1

    opt_b = optim.Adam(params_b, lr=0.5)
    for pb, pa in zip(params_b, params_a):
        pb.data[...] = pa.data
    opt_b.load_state_dict(state)
    assert opt_b.param_groups[0]["lr"] == 0.01
    for params, opt in ((params_a, opt_a), (params_b, opt_b)):
        for p, g in zip(params, grads[1]):
            p.grad = tg.tensor(g)
        opt.step()
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_load_state_dict_rejects_state_for_other_parameters():
    params, grads = make_problem()
    opt = optim.Adam(params)
    other = optim.Adam([tg.tensor(np.zeros(3), requires_grad=True)])
    with pytest.raises(ValueError, match="holds 1 parameters in the state, 3 here"):
        opt.load_state_dict(other.state_dict())
    for p, g in zip(params, grads[0]):
        p.grad = tg.tensor(g)
    opt.step()
    state = opt.state_dict()
    del state["state"][1]["exp_avg"]
    with pytest.raises(KeyError, match="parameter 1 lacks \\['exp_avg'\\]"):
        opt.load_state_dict(state)
    state = opt.state_dict()
    state["state"][2]["exp_avg_sq"] = np.zeros(5)
    with pytest.raises(
        ValueError, match=r"exp_avg_sq of parameter 2 has shape \(5,\), the parameter has shape \(2, 2, 2\)"
    ):
        opt.load_state_dict(state)
    with pytest.raises(KeyError, match="expected 'state' and 'param_groups'"):
        opt.load_state_dict({"steps": np.zeros(3)})


def test_optimizer_argument_errors():
    p = tg.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="requires grad"):
        optim.SGD([tg.tensor(np.zeros(3))], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="one dtype"):
        optim.SGD([p, tg.tensor(np.zeros(2, np.float32), requires_grad=True)], lr=0.1)


def test_zero_grad_sets_none_or_zeroes_the_flat_buffer():
    params, grads = make_problem()
    opt = optim.SGD(params, lr=0.1)
    for p, g in zip(params, grads[0]):
        p.grad = tg.tensor(g)
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in params)
    assert all(np.shares_memory(p.grad.data, opt.flat.grad) for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_backward_writes_into_the_flat_gradient_and_step_reads_it_there(set_to_none):
    w = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.25)
    for _ in range(2):
        opt.zero_grad(set_to_none=set_to_none)
        (w * w).sum().backward()
        (w * 1.0).sum().backward()  # a second contribution accumulates in place
        assert np.shares_memory(w.grad.data, opt.flat.grad)
        np.testing.assert_allclose(w.grad.data, 2 * w.data + 1)
        before = w.data.copy()
        opt.step()
        np.testing.assert_allclose(w.data, before - 0.25 * (2 * before + 1))


def test_gradients_written_straight_into_the_flat_buffer_equal_the_ordinary_ones():
    """Linear and l2_penalty write a first gradient into the optimizer's buffer; the values must not change."""
    from tensorgrad.models import MLP

    x = np.random.default_rng(0).random((16, 784), dtype=np.float32)
    y = np.arange(16) % 10
    plain, buffered = MLP(rng=1, keep_prob=1.0), MLP(rng=1, keep_prob=1.0)
    opt = optim.Adam(buffered.parameters())
    plain.loss(x, y, l2=0.5).backward()
    for _ in range(2):  # the second round reuses the buffer
        opt.zero_grad()
        buffered.loss(x, y, l2=0.5).backward()
        for (name, p), q in zip(plain.named_parameters(), buffered.parameters()):
            assert np.shares_memory(q.grad.data, opt.flat.grad), name
            np.testing.assert_allclose(q.grad.data, p.grad.data, rtol=1e-6, atol=1e-7, err_msg=name)


def test_a_weight_penalized_twice_gets_both_gradients_with_a_buffer():
    import tensorgrad.functional as F

    w = tg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    optim.SGD([w], lr=0.1).zero_grad()
    F.l2_penalty([w, w], 0.5).backward()
    np.testing.assert_allclose(w.grad.data, 2 * 0.5 * w.data)


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_state_as_flat_arrays_round_trips_for_every_optimizer(name):
    """What a checkpoint (.npz: flat arrays only) stores: state_to_arrays, then state_from_arrays."""
    params, grads = make_problem(dtype=np.float32)
    options = {"lr": 0.01, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.02}]
    opt = getattr(optim, name)(groups, **options)
    for p, g in zip(params, grads[0]):
        p.grad = tg.tensor(g)
    opt.step()
    arrays = optim.state_to_arrays(opt.state_dict())
    assert all(isinstance(key, str) and isinstance(value, np.ndarray) for key, value in arrays.items())
    assert "param_groups/1/lr" in arrays and "param_groups/0/params" in arrays
    restored = getattr(optim, name)([{"params": params[:2]}, {"params": params[2:]}], lr=0.5)
    restored.load_state_dict(optim.state_from_arrays(arrays))
    assert restored.param_groups[1]["lr"] == 0.02
    assert restored.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for key, value in optim.state_to_arrays(restored.state_dict()).items():
        np.testing.assert_array_equal(value, arrays[key], err_msg=key)


def test_state_from_arrays_names_an_entry_of_another_layout():
    with pytest.raises(KeyError, match="'steps' is neither state/<index>/<name> nor param_groups"):
        optim.state_from_arrays({"steps": np.zeros(3), "lr": np.asarray(0.1)})
