"""`autograd.grad` and `backward(create_graph=True)`: torch's rules for retaining graphs, .grad and unused inputs."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.autograd.engine import RELEASED_GRAPH_MESSAGE

from .helpers import leaf, normal

RELEASED = "backward through the graph a second time"


def test_create_graph_makes_leaf_grad_a_recorded_tensor_that_differentiates_again():
    x = leaf([1.0, 2.0])
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_array_equal(x.grad.data, [3.0, 12.0])
    x.grad.sum().backward()  # accumulates d(sum 3x^2)/dx = 6x into x.grad, as torch does
    np.testing.assert_array_equal(x.grad.data, [3.0 + 6.0, 12.0 + 12.0])


def test_create_graph_implies_retain_graph_so_a_second_backward_works():
    x = leaf([1.0, 2.0])
    y = (x**3).sum()
    y.backward(create_graph=True)
    y.backward()  # the graph was kept
    np.testing.assert_array_equal(x.grad.data, [6.0, 24.0])
    with pytest.raises(RuntimeError, match=RELEASED):
        y.backward()  # that second backward released it


def test_create_graph_false_with_retain_graph_keeps_gradients_plain():
    x = leaf([1.0, 2.0])
    y = (x**3).sum()
    y.backward(retain_graph=True)
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, [6.0, 24.0])


def test_the_released_graph_message_is_unchanged():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert str(info.value) == RELEASED_GRAPH_MESSAGE
    with pytest.raises(RuntimeError, match=RELEASED):
        tg.autograd.grad(y, [x])
    with pytest.raises(RuntimeError, match=RELEASED):
        y.backward(create_graph=True)


def test_autograd_grad_returns_gradients_and_leaves_grad_untouched(rng):
    x, w = normal(rng, (3,)), normal(rng, (3,))
    w.grad = tg.tensor(np.full(3, 7.0))
    gx, gw = tg.autograd.grad((x * w).sum(), [x, w])
    np.testing.assert_array_equal(gx.data, w.data)
    np.testing.assert_array_equal(gw.data, x.data)
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.data, np.full(3, 7.0))
    assert not gx.requires_grad


def test_autograd_grad_releases_the_graph_unless_retained_or_creating_one(rng):
    x = normal(rng, (3,))
    y = (x * x).sum()
    tg.autograd.grad(y, [x], retain_graph=True)
    (first,) = tg.autograd.grad(y, [x], create_graph=True)  # retain_graph defaults to create_graph
    assert first.requires_grad
    tg.autograd.grad(y, [x])
    with pytest.raises(RuntimeError, match=RELEASED):
        tg.autograd.grad(y, [x])


def test_autograd_grad_of_an_unused_input_is_an_error_unless_allow_unused(rng):
    x, unused = normal(rng, (2,)), normal(rng, (2,))
    y = (x * 2.0).sum()
    with pytest.raises(
        RuntimeError, match="input 1 was not used to compute the outputs; pass allow_unused=True"
    ):
        tg.autograd.grad(y, [x, unused], retain_graph=True)
    gx, none = tg.autograd.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.data, [2.0, 2.0])
    assert none is None


def test_autograd_grad_with_respect_to_a_non_leaf(rng):
    x = normal(rng, (3,))
    z = x * 2.0
    gz, gx = tg.autograd.grad((z * z).sum(), [z, x])
    np.testing.assert_allclose(gz.data, 2 * z.data, rtol=1e-15)
    np.testing.assert_allclose(gx.data, 8 * x.data, rtol=1e-15)
    assert x.grad is None and z.grad is None


def test_autograd_grad_of_a_non_leaf_with_create_graph_differentiates_again(rng):
    x = normal(rng, (3,))
    z = x.tanh()
    (gz,) = tg.autograd.grad((z**3).sum(), [z], create_graph=True)
    (gx,) = tg.autograd.grad(gz.sum(), [x])  # d/dx sum 3 tanh(x)^2
    t = np.tanh(x.data)
    np.testing.assert_allclose(gx.data, 6 * t * (1 - t**2), rtol=1e-14)


def test_autograd_grad_refuses_an_input_that_does_not_require_grad(rng):
    x, constant = normal(rng, (2,)), normal(rng, (2,), requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.autograd.grad((x * constant).sum(), [constant])


def test_autograd_grad_with_grad_outputs_and_several_outputs(rng):
    x = normal(rng, (3,))
    y1, y2 = x * 2.0, x * x
    g1, g2 = rng.standard_normal(3), rng.standard_normal(3)
    (gx,) = tg.autograd.grad([y1, y2], [x], [tg.tensor(g1), tg.tensor(g2)])
    np.testing.assert_allclose(gx.data, 2 * g1 + 2 * x.data * g2, rtol=1e-15)
    with pytest.raises(ValueError, match=r"grad has shape \(2,\), the tensor has shape \(3,\)"):
        tg.autograd.grad(x * 2.0, [x], tg.tensor(np.ones(2)))
    with pytest.raises(RuntimeError, match="needs a scalar output"):
        tg.autograd.grad(x * 2.0, [x])


def test_a_grad_output_that_requires_grad_is_differentiated_under_create_graph(rng):
    x, v = normal(rng, (3,)), normal(rng, (3,))
    (vjp,) = tg.autograd.grad(x.exp(), [x], v, create_graph=True)
    (gv,) = tg.autograd.grad(vjp.sum(), [v])
    np.testing.assert_allclose(gv.data, np.exp(x.data), rtol=1e-15)


def test_float32_stays_float32_through_a_double_backward(rng):
    x = normal(rng, (2, 3), dtype=np.float32)
    w = normal(rng, (3, 2), dtype=np.float32)
    loss = ((x @ w).tanh() ** 2).mean() * 0.5
    (gw,) = tg.autograd.grad(loss, [w], create_graph=True)
    (hw,) = tg.autograd.grad((gw * gw).sum(), [w])
    assert gw.dtype == np.float32 and hw.dtype == np.float32


def test_first_order_backward_after_a_create_graph_one_gives_the_same_gradient(rng):
    x = normal(rng, (4,))
    y = (x.sigmoid() * x).sum()
    y.backward(create_graph=True)
    recorded = x.grad.data.copy()
    x.grad = None
    y.backward()
    np.testing.assert_allclose(x.grad.data, recorded, rtol=1e-15)


def test_backward_of_a_recorded_gradient_releases_its_own_graph(rng):
    x = normal(rng, (3,))
    (g,) = tg.autograd.grad((x**3).sum(), [x], create_graph=True)
    total = g.sum()
    total.backward()
    with pytest.raises(RuntimeError, match=RELEASED):
        total.backward()
