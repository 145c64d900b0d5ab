"""Tensor hooks and retain_grad, with torch's semantics: replace, observe, remove, order, accumulation."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg

from .helpers import leaf


def test_a_hook_on_a_leaf_replaces_its_gradient():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda grad: grad * 10.0)
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [30.0, 30.0])


def test_a_hook_that_returns_none_only_observes():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda grad: seen.append(grad.data.copy()))
    (x * x).sum().backward()
    np.testing.assert_array_equal(seen, [[2.0, 4.0]])
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_a_removed_hook_is_not_called():
    x = leaf([1.0, 2.0])
    calls = []
    handle = x.register_hook(lambda grad: calls.append(1) or grad * 0.0)
    handle.remove()
    handle.remove()  # removing twice is harmless, as in torch
    (x * 2.0).sum().backward()
    assert calls == []
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_a_hook_on_a_non_leaf_changes_what_flows_to_its_inputs():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    seen = []
    y.register_hook(lambda grad: seen.append(grad.data.copy()))
    y.register_hook(lambda grad: grad * 10.0)
    (y * y).sum().backward()
    np.testing.assert_array_equal(seen, [[4.0, 8.0]])  # dL/dy = 2y
    np.testing.assert_array_equal(x.grad.data, [80.0, 160.0])  # 10 * 2y * dy/dx
    assert y.grad is None  # a non-leaf keeps no .grad unless asked


def test_hooks_run_in_registration_order_each_seeing_the_previous_result():
    x = leaf([1.0, 1.0])
    seen = []
    x.register_hook(lambda grad: seen.append(("first", grad.data.copy())) or grad + 1.0)
    x.register_hook(lambda grad: seen.append(("second", grad.data.copy())) or grad * 3.0)
    (x * 2.0).sum().backward()
    assert [name for name, _ in seen] == ["first", "second"]
    np.testing.assert_array_equal(seen[1][1], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.data, [9.0, 9.0])


def test_a_leaf_used_twice_has_its_hook_called_once_with_the_summed_gradient():
    x = leaf([1.0, 2.0])
    calls = []
    x.register_hook(lambda grad: calls.append(grad.data.copy()))
    ((x * 3.0).sum() + (x * x).sum()).backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [5.0, 7.0])
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])


def test_a_non_leaf_used_twice_has_its_hook_called_once_with_the_summed_gradient():
    x = leaf([1.0, 2.0])
    y = x * 1.0
    calls = []
    y.register_hook(lambda grad: calls.append(grad.data.copy()))
    ((y * 3.0).sum() + (y * y).sum()).backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [5.0, 7.0])


def test_a_leaf_hook_sees_each_backward_gradient_not_the_accumulated_grad():
    x = leaf([1.0, 2.0])
    calls = []
    x.register_hook(lambda grad: calls.append(grad.data.copy()))
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(calls, [[2.0, 2.0], [3.0, 3.0]])
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0])


def test_retain_grad_keeps_a_non_leaf_gradient_after_the_other_hooks_ran():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    y.register_hook(lambda grad: grad * 10.0)  # registered after retain_grad, it still runs first (torch)
    assert y.retains_grad and not x.retains_grad
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [40.0, 80.0])
    np.testing.assert_array_equal(x.grad.data, [80.0, 160.0])


def test_retain_grad_accumulates_over_backwards_and_is_a_no_op_on_a_leaf():
    x = leaf([1.0, 2.0])
    x.retain_grad()
    y = x * 3.0
    y.retain_grad()
    y.retain_grad()  # twice: still one entry
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


def test_a_non_leaf_hook_under_create_graph_is_recorded_and_its_change_differentiated():
    x = leaf([1.0, 2.0])
    y = x * x
    received = []
    y.register_hook(lambda grad: received.append(grad.requires_grad) or grad * y)
    y.sum().backward(create_graph=True)
    np.testing.assert_array_equal(x.grad.data, 2 * x.data * x.data**2)  # the hook scaled dL/dy by y = x^2
    (second,) = tg.autograd.grad(x.grad.sum(), [x])
    # x.grad = 2x * y: through 2x, 2y = 2x^2; through y, 2x - which the hook, still registered, scales by
    # y = x^2 on its way through y again, as torch does - times dy/dx = 2x: 4x^4
    np.testing.assert_array_equal(second.data, 2 * x.data**2 + 4 * x.data**4)
    assert received == [False, False]  # called in each backward; a scalar's seed is a constant, as in torch


def test_a_leaf_hook_under_create_graph_is_recorded_and_runs_again_for_autograd_grad():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda grad: grad * x)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_array_equal(x.grad.data, 3 * x.data**3)
    # d/dx 3x^3 = 9x^2, and the hook (still registered) multiplies what autograd.grad returns for x by x
    (second,) = tg.autograd.grad(x.grad.sum(), [x])
    np.testing.assert_array_equal(second.data, 9 * x.data**3)


def test_autograd_grad_runs_the_hooks_of_its_inputs():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda grad: grad * 10.0)
    y = x * 2.0
    y.register_hook(lambda grad: grad + 1.0)
    gy, gx = tg.autograd.grad((y * y).sum(), [y, x])
    np.testing.assert_array_equal(gy.data, 2 * y.data + 1.0)
    np.testing.assert_array_equal(gx.data, 10.0 * 2.0 * (2 * y.data + 1.0))
    assert x.grad is None


def test_a_hook_cannot_be_registered_on_a_tensor_without_gradient():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tg.tensor([1.0]).register_hook(lambda grad: grad)
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        tg.tensor([1.0]).retain_grad()


def test_a_hook_that_returns_the_wrong_shape_is_an_error():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda grad: grad.sum())
    with pytest.raises(
        RuntimeError, match=r"a hook returned a gradient of shape \(\) for a tensor of shape \(2,\)"
    ):
        (x * 2.0).sum().backward()
