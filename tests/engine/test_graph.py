"""How the graph is recorded, walked and released: accumulation, retain_graph, no_grad, detach, memory."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import tensorgrad as tg

from .helpers import leaf, normal


def test_gradients_accumulate_over_two_backward_passes_into_leaf_grad(rng):
    x = normal(rng, (3,))
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 3, rtol=1e-15)


def test_retain_graph_allows_a_second_backward_that_doubles_the_gradients(rng):
    x, w = normal(rng, (3,)), normal(rng, (3,))
    loss = (x * w).exp().sum()
    loss.backward(retain_graph=True)
    first_x, first_w = x.grad.data.copy(), w.grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first_x, rtol=1e-15)
    np.testing.assert_allclose(w.grad.data, 2 * first_w, rtol=1e-15)


def test_second_backward_without_retain_graph_raises_and_names_retain_graph(rng):
    x = normal(rng, (3,))
    loss = (x * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_backward_through_a_subgraph_released_by_another_backward_raises(rng):
    x = normal(rng, (3,))
    shared = x.exp()
    shared.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (shared * 2).sum().backward()


def test_no_grad_context_records_nothing(rng):
    x = normal(rng, (3,))
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    np.testing.assert_allclose(y.item(), np.exp(2 * x.data).sum())


def test_no_grad_as_decorator_records_nothing_and_restores_recording(rng):
    x = normal(rng, (3,))

    @tg.no_grad()
    def evaluate(t):
        assert not tg.is_grad_enabled()
        return t * 2 + 1

    for _ in range(2):  # the same decorated function may run many times
        y = evaluate(x)
        assert not y.requires_grad and y.grad_fn is None
        assert tg.is_grad_enabled()
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad_records_again(rng):
    x = normal(rng, (3,))
    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            y = x * 2
        z = x * 2
        assert not tg.is_grad_enabled()
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad and z.grad_fn is None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(3, 2.0))


def test_set_grad_enabled_switches_recording_and_restores_it_on_error(rng):
    x = normal(rng, (3,))
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with pytest.raises(ZeroDivisionError), tg.no_grad():
        1 / 0  # noqa: B018
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(True):
        assert (x * 2).requires_grad


def test_detach_shares_data_and_cuts_the_graph(rng):
    x = normal(rng, (3,))
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.data, x.data)
    d.data[0] = 42.0
    assert x.data[0] == 42.0
    y = x.exp()
    (y.detach() * x).sum().backward()  # the detached factor is a constant
    np.testing.assert_array_equal(x.grad.data, y.data)


def test_diamond_graph_sums_every_path_exactly():
    x = leaf([0.5, -1.5, 2.0])
    y = x * x + x
    z = y * y + y
    z.sum().backward()
    xd = x.data
    yd = xd * xd + xd
    np.testing.assert_allclose(x.grad.data, (2 * yd + 1) * (2 * xd + 1), rtol=1e-15)


def test_tensor_used_by_many_consumers_gets_the_sum_of_their_gradients():
    x = leaf([1.0, 2.0])
    h = x * 3  # a non-leaf consumed four times, through different ops
    out = h + h * h - h.exp() + h.sum()
    out.sum().backward()
    hd = 3 * x.data
    np.testing.assert_allclose(x.grad.data, 3 * (1 + 2 * hd - np.exp(hd) + 2), rtol=1e-14)


def test_backward_waits_for_a_late_consumer_and_ignores_ops_outside_the_graph():
    # backward runs nodes from the latest recorded down: `h` must wait for `late`, recorded long after it
    # on another branch, and ops recorded in between that the loss does not use must not hold it up
    x = leaf([0.3, -0.7])
    h = x.tanh()
    early = h * 2
    unused = h.exp() * 5  # recorded, never part of the loss
    chain = x
    for _ in range(20):
        chain = chain * 1.1
    late = h * chain
    loss = (early + late).sum()
    loss.backward()
    xd = x.data
    hd, cd = np.tanh(xd), xd * 1.1**20
    expected = (2 + cd) * (1 - hd * hd) + hd * 1.1**20
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-14)
    assert unused.grad_fn is not None and not unused.grad_fn.released


def test_chain_of_100000_ops_backpropagates_without_recursion_error():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0000001**100_000], rtol=1e-9)
    del y  # tearing down the (released) chain must not recurse either
    gc.collect()


def test_non_leaf_tensors_keep_grad_none_after_backward(rng):
    x = normal(rng, (3,))
    y = x * 2
    z = y.sum()
    z.backward()
    assert x.is_leaf and not y.is_leaf and not z.is_leaf
    assert y.grad is None and z.grad is None
    assert x.grad is not None


def test_leaf_grad_is_a_writable_tensor_of_the_leafs_shape_and_dtype(rng):
    for dtype in (np.float32, np.float64):
        x = normal(rng, (2, 3), dtype=dtype)
        (x * 2).sum().backward()
        assert isinstance(x.grad, tg.Tensor) and type(x.grad.data) is np.ndarray
        assert x.grad.shape == (2, 3) and x.grad.dtype == dtype
        assert x.grad.data.flags.writeable
        x.grad.data += 1  # optimizers update .grad in place


def test_leaf_grads_from_a_shared_upstream_gradient_are_separate_arrays(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    (a + b).sum().backward()
    assert a.grad is not b.grad
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert a.grad.data.flags.writeable and b.grad.data.flags.writeable
    a.grad.data *= 5
    np.testing.assert_array_equal(b.grad.data, np.ones((2, 3)))
    np.testing.assert_array_equal(a.grad.data, np.full((2, 3), 5.0))


def test_leaf_grads_from_a_broadcast_are_separate_arrays_of_each_leafs_shape(rng):
    a, b = normal(rng, (3, 1)), normal(rng, (1, 4))
    c = normal(rng, (3, 4))
    ((a + b) + c).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4) and c.grad.shape == (3, 4)
    np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad.data, np.full((1, 4), 3.0))
    for grad in (a.grad, b.grad, c.grad):
        assert grad.data.flags.writeable
    c.grad.data[...] = -1
    np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 4.0))


def test_leaf_used_twice_in_one_op_gets_an_array_of_its_own(rng):
    x, y = normal(rng, (3,)), normal(rng, (3,))
    (x + x + y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(3, 2.0))
    np.testing.assert_array_equal(y.grad.data, np.ones(3))
    assert not np.shares_memory(x.grad.data, y.grad.data)


def test_leaf_grad_does_not_alias_the_gradient_passed_to_backward(rng):
    x = normal(rng, (2, 2))
    g = np.ones((2, 2))
    (x + 0).backward(g)
    assert not np.shares_memory(x.grad.data, g)
    g[...] = 7
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 2)))
    x.grad.data[...] = 3
    np.testing.assert_array_equal(g, np.full((2, 2), 7.0))


def test_leaf_grad_does_not_alias_the_gradient_passed_to_a_leafs_own_backward(rng):
    x = normal(rng, (2,))
    g = np.array([1.0, 2.0])
    x.backward(g)
    g[0] = 100
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])


def test_intermediate_tensors_are_freed_after_backward_without_retain_graph(rng):
    x = normal(rng, (50, 50))
    y = x.exp()
    z = (y * 3).sum()
    ref = weakref.ref(y)
    z.backward()
    del y
    gc.collect()
    assert ref() is None
    assert z.grad_fn is not None  # the root keeps its (released) node


def test_intermediate_tensors_stay_alive_while_the_graph_is_retained(rng):
    x = normal(rng, (5,))
    y = x.exp()
    z = (y * 3).sum()
    ref = weakref.ref(y)
    z.backward(retain_graph=True)
    del y
    gc.collect()
    assert ref() is not None
    z.backward()
    gc.collect()
    assert ref() is None


def test_backward_with_a_gradient_for_a_non_scalar_output(rng):
    x = normal(rng, (2, 3))
    g = rng.standard_normal((2, 3))
    (x * 2).backward(g)
    np.testing.assert_allclose(x.grad.data, 2 * g, rtol=1e-15)
    x.grad = None
    (x.exp()).backward(tg.tensor(g))
    np.testing.assert_allclose(x.grad.data, np.exp(x.data) * g, rtol=1e-15)


def test_backward_gradient_is_cast_to_the_outputs_dtype(rng):
    x = normal(rng, (3,), dtype=np.float32)
    (x * 2).backward(np.ones(3, dtype=np.float64))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, np.full(3, 2.0, dtype=np.float32))


def test_backward_on_a_leaf_itself_sets_its_grad():
    x = leaf(3.0)
    x.backward()
    assert x.grad.shape == () and x.grad.item() == 1.0
    v = leaf([1.0, 2.0])
    v.backward(np.array([0.5, -1.0]))
    np.testing.assert_array_equal(v.grad.data, [0.5, -1.0])


def test_backward_of_a_one_element_non_scalar_needs_no_gradient(rng):
    x = normal(rng, (1, 1))
    (x * 4).backward()
    np.testing.assert_array_equal(x.grad.data, [[4.0]])


def test_zero_dimensional_leaf_gets_a_zero_dimensional_ndarray_grad():
    x = leaf(2.0)
    (x * x * 3).backward()
    assert type(x.grad.data) is np.ndarray and x.grad.shape == ()
    assert x.grad.data.flags.writeable
    assert x.grad.item() == 12.0


def test_only_inputs_that_require_grad_receive_gradients(rng):
    x = normal(rng, (3,))
    c = normal(rng, (3,), requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.data, c.data)


def test_requires_grad_propagates_and_grad_fn_names_the_op(rng):
    x = normal(rng, (3,))
    c = normal(rng, (3,), requires_grad=False)
    assert not (c * 2).requires_grad and (c * 2).grad_fn is None
    y = x * c
    assert y.requires_grad and y.grad_fn.name == "mul" and not y.is_leaf
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_requires_grad_cannot_be_switched_off_on_a_non_leaf(rng):
    y = normal(rng, (3,)) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_numpy_refuses_a_tensor_that_requires_grad(rng):
    x = normal(rng, (3,))
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy() is x.data


def test_dropping_an_unreleased_chain_of_100000_ops_does_not_recurse():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y + 0
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None


def test_backward_releases_every_node_unless_the_graph_is_retained(rng):
    x = normal(rng, (3,))
    h = x.exp()
    out = (h * h).sum()
    out.backward(retain_graph=True)
    assert not h.grad_fn.released and not out.grad_fn.released
    out.backward()
    assert h.grad_fn.released and out.grad_fn.released
    assert h.grad_fn.saved is None and out.grad_fn.inputs is None


def test_in_place_backward_never_corrupts_a_gradient_that_fans_out():
    """Ops may overwrite a gradient they own; one handed to two inputs (here by add) is owned by neither."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    scale = rng.standard_normal((3, 4))
    mask = (rng.random((3, 4)) > 0.3) * 2.0

    def f(x):
        return (((x.relu() * mask) + x.tanh() * mask) * scale).sum()

    f(x).backward()
    relu_grad = (x.data > 0) * mask * scale
    tanh_grad = (1 - np.tanh(x.data) ** 2) * mask * scale
    np.testing.assert_allclose(x.grad.data, relu_grad + tanh_grad, rtol=1e-12)
    assert tg.gradcheck(f, (x,))


def test_in_place_backward_leaves_a_user_supplied_gradient_untouched():
    x = tg.tensor(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
    upstream = np.array([1.0, 1.0, 1.0])
    (x.relu() * 2.0).backward(upstream)
    np.testing.assert_array_equal(upstream, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, 2.0])
