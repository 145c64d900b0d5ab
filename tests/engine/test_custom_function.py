"""Custom differentiable functions (`tg.autograd.Function`), with torch.autograd.Function's semantics."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg

from .helpers import leaf, normal, positive


class Cube(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


class Exp(tg.autograd.Function):
    """Saves its output and differentiates with it (as torch's docs example does)."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class Power(tg.autograd.Function):
    """x ** n for a Python number n, which passes through and gets no gradient."""

    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x)
        ctx.n = n
        return x**n

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.n * x ** (ctx.n - 1), None


class ProductAndSum(tg.autograd.Function):
    """Two outputs: a * b and a + b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b, a + b

    @staticmethod
    def backward(ctx, grad_product, grad_sum):
        a, b = ctx.saved_tensors
        return grad_product * b + grad_sum, grad_product * a + grad_sum


class Sort(tg.autograd.Function):
    """Sorted values (differentiable) and the permutation (integer, marked non-differentiable)."""

    @staticmethod
    def forward(ctx, x):
        order = tg.tensor(np.argsort(x.data, kind="stable"))
        ctx.mark_non_differentiable(order)
        ctx.save_for_backward(order)
        return x[order], order

    @staticmethod
    def backward(ctx, grad_values, grad_order):
        ctx.received = grad_order
        (order,) = ctx.saved_tensors
        return tg.index_add(grad_values, order, grad_values.shape)


class ClipWithMask(tg.autograd.Function):
    """min(x, 1) and a float mask of where x was clipped, marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        mask = tg.tensor((x.data > 1.0).astype(x.dtype))
        ctx.mark_non_differentiable(mask)
        ctx.save_for_backward(mask)
        return tg.where(mask.data > 0, 1.0, x), mask

    @staticmethod
    def backward(ctx, grad, grad_mask):
        (mask,) = ctx.saved_tensors
        return grad * (1.0 - mask)


def test_custom_function_value_and_gradient(rng):
    x = normal(rng, (2, 3))
    y = Cube.apply(x)
    np.testing.assert_allclose(y.data, x.data**3, rtol=1e-15)
    assert y.requires_grad and y.grad_fn.name == "Cube"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2, rtol=1e-15)
    assert tg.gradcheck(Cube.apply, (normal(rng, (2, 3)),)) is True


def test_custom_function_differentiates_twice_when_its_backward_uses_tensor_ops(rng):
    x = normal(rng, (2, 3))
    Cube.apply(x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2, rtol=1e-15)
    (second,) = tg.autograd.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(second.data, 6 * x.data, rtol=1e-15)
    assert tg.gradgradcheck(Cube.apply, (normal(rng, (2, 3)),)) is True


def test_a_saved_output_is_the_recorded_output_so_double_backward_reaches_through_it(rng):
    x = normal(rng, (3,))
    y = Exp.apply(x)
    assert y.grad_fn.ctx.saved_tensors[0] is y
    assert tg.gradcheck(Exp.apply, (x,)) is True
    assert tg.gradgradcheck(Exp.apply, (x,)) is True


def test_non_tensor_arguments_pass_through_and_get_no_gradient(rng):
    x = positive(rng, (4,))
    y = Power.apply(x, 2.5)
    np.testing.assert_allclose(y.data, x.data**2.5, rtol=1e-15)
    assert tg.gradcheck(lambda x: Power.apply(x, 2.5), (x,)) is True
    assert tg.gradgradcheck(lambda x: Power.apply(x, 2.5), (x,)) is True


def test_needs_input_grad_says_which_arguments_want_a_gradient(rng):
    seen = {}

    class Record(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, frozen):
            seen["forward"] = ctx.needs_input_grad
            return x * k * frozen

        @staticmethod
        def backward(ctx, grad):
            seen["backward"] = ctx.needs_input_grad
            _, k, frozen = ctx.needs_input_grad
            assert not k and not frozen
            return grad * 2.0, None, None

    x, frozen = normal(rng, (3,)), normal(rng, (3,), requires_grad=False)
    Record.apply(x, 2.0, frozen).sum().backward()
    assert seen == {"forward": (True, False, False), "backward": (True, False, False)}
    np.testing.assert_array_equal(x.grad.data, np.full(3, 2.0))
    assert frozen.grad is None


def test_several_outputs_each_get_their_gradient(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    product, total = ProductAndSum.apply(a, b)
    np.testing.assert_allclose(product.data, a.data * b.data, rtol=1e-15)
    np.testing.assert_allclose(total.data, a.data + b.data, rtol=1e-15)
    (product * 2.0 + total * 3.0).sum().backward()
    np.testing.assert_allclose(a.grad.data, 2 * b.data + 3, rtol=1e-15)
    np.testing.assert_allclose(b.grad.data, 2 * a.data + 3, rtol=1e-15)
    assert tg.gradcheck(ProductAndSum.apply, (a, b)) is True
    assert tg.gradgradcheck(ProductAndSum.apply, (a, b)) is True


def test_an_output_left_unused_gets_a_zero_gradient(rng):
    a, b = normal(rng, (3,)), normal(rng, (3,))
    product, _ = ProductAndSum.apply(a, b)
    product.sum().backward()
    np.testing.assert_allclose(a.grad.data, b.data, rtol=1e-15)


def test_a_non_differentiable_output_does_not_require_grad_and_backward_gets_zeros_for_it(rng):
    x = leaf([3.0, 1.0, 2.0])
    values, order = Sort.apply(x)
    np.testing.assert_array_equal(values.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(order.data, [1, 2, 0])
    assert values.requires_grad and not order.requires_grad and order.grad_fn is None
    (values * leaf([10.0, 20.0, 30.0], requires_grad=False)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [30.0, 10.0, 20.0])
    received = values.grad_fn.ctx.received
    np.testing.assert_array_equal(received.data, np.zeros(3, dtype=order.dtype))
    assert tg.gradcheck(lambda x: Sort.apply(x)[0], (normal(rng, (5,)),)) is True


def test_mark_non_differentiable_on_a_float_output(rng):
    x = leaf([0.5, 1.5, -2.0, 3.0])
    clipped, mask = ClipWithMask.apply(x)
    assert clipped.requires_grad and not mask.requires_grad
    np.testing.assert_array_equal(mask.data, [0.0, 1.0, 0.0, 1.0])
    clipped.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 1.0, 0.0])


def test_forward_runs_without_recording_and_a_function_of_constants_records_nothing(rng):
    modes = []

    class Probe(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(tg.is_grad_enabled())
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0

    x = normal(rng, (2,))
    y = Probe.apply(x)
    assert modes == [False] and tg.is_grad_enabled()
    assert y.grad_fn is not None and y.grad_fn.name == "Probe"
    constant = Probe.apply(normal(rng, (2,), requires_grad=False))
    assert not constant.requires_grad and constant.grad_fn is None
    with tg.no_grad():
        assert Probe.apply(x).grad_fn is None


def test_a_backward_that_returns_the_wrong_number_of_gradients_is_an_error(rng):
    class Wrong(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0  # forward took two arguments

    y = Wrong.apply(normal(rng, (2,)), 2.0)
    with pytest.raises(
        RuntimeError, match=r"Wrong.backward returned 1 gradients, but forward took 2 arguments"
    ):
        y.sum().backward()


def test_forward_must_return_tensors(rng):
    class ReturnsArray(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.data * 2

    with pytest.raises(TypeError, match=r"ReturnsArray.forward must return Tensors, got ndarray"):
        ReturnsArray.apply(normal(rng, (2,)))


def test_save_for_backward_refuses_non_tensors(rng):
    class SavesArray(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x.data)
            return x * 1.0

    with pytest.raises(TypeError, match=r"save_for_backward\(\) takes Tensors or None, not ndarray"):
        SavesArray.apply(normal(rng, (2,)))


def test_a_custom_function_inside_a_model_trains_like_the_built_in_op(rng):
    w_custom = normal(rng, (3, 2))
    w_builtin = leaf(w_custom.data)
    x = normal(rng, (8, 3), requires_grad=False)
    for w, cube in ((w_custom, Cube.apply), (w_builtin, lambda t: t**3)):
        cube(x @ w).mean().backward()
    np.testing.assert_allclose(w_custom.grad.data, w_builtin.grad.data, rtol=1e-14)


def test_outputs_of_different_dtypes_keep_their_dtypes_and_so_do_their_gradients():
    received = []

    class ScaleBoth(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 2.0, b * 3.0

        @staticmethod
        def backward(ctx, grad_a, grad_b):
            received.extend([grad_a.dtype, grad_b.dtype])
            return grad_a * 2.0, grad_b * 3.0

    a, b = leaf([1.0, 2.0], dtype=np.float32), leaf([1.0, 2.0, 3.0])
    scaled_a, scaled_b = ScaleBoth.apply(a, b)
    assert (scaled_a.dtype, scaled_b.dtype) == (np.float32, np.float64)
    (scaled_a.sum() + scaled_b.sum()).backward()
    assert received == [np.float32, np.float64]
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])
