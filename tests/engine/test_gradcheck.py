"""tg.gradcheck itself: it passes correct gradients and catches wrong ones, naming where they differ."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.autograd import apply
from tensorgrad.ops import Op
from tensorgrad.ops.generic import constant

from .helpers import leaf, normal


class MulWithWrongGradient(Op):
    """a * b whose backward is right for `a` and wrong for `b` at one element (1, 2)."""

    name = "mul_with_wrong_gradient"

    def forward(self, a, b):
        return a * b

    def backward(self, grad, a, b, out):
        grad_b = grad * a
        grad_b[1, 2] += 0.5 * grad[1, 2]
        return grad * b, grad_b


class SquareWithNanGradient(Op):
    name = "square_with_nan_gradient"

    def forward(self, a):
        return a * a

    def backward(self, grad, a, out):
        return np.where(a > 0, 2 * a * grad, np.nan)


class ScaledSquare(Op):
    """x**2 * scale, with a correct backward (to show a custom op is checked like a built-in one)."""

    __slots__ = ("scale",)
    name = "scaled_square"

    def __init__(self, scale):
        self.scale = scale

    def forward(self, a):
        return a * a * self.scale

    def backward(self, grad, a, out):
        return 2 * self.scale * a * grad


def test_gradcheck_returns_true_for_a_correct_gradient(rng):
    x, w = normal(rng, (3, 4)), normal(rng, (4, 2))
    assert tg.gradcheck(lambda x, w: (x @ w).tanh(), (x, w)) is True
    assert tg.gradcheck(lambda x: apply(ScaledSquare(3.0), x), (x,)) is True


def test_gradcheck_accepts_a_single_tensor_and_non_tensor_inputs(rng):
    x = normal(rng, (3,))
    assert tg.gradcheck(lambda x: x.exp(), x) is True
    assert tg.gradcheck(lambda x, k, c: x * k + c, [x, 2.5, np.ones(3)]) is True


def test_gradcheck_checks_only_inputs_that_require_grad(rng):
    x, frozen = normal(rng, (2,)), normal(rng, (2,), requires_grad=False)
    assert tg.gradcheck(lambda x, f: x * f.exp(), (x, frozen)) is True
    assert frozen.grad is None


def test_gradcheck_raises_gradcheck_error_naming_the_input_and_element_of_a_wrong_gradient(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    with pytest.raises(tg.GradcheckError, match=r"input 1 at element \(1, 2\), output element 5") as info:
        tg.gradcheck(lambda a, b: apply(MulWithWrongGradient(), a, b), (a, b))
    assert isinstance(info.value, AssertionError)
    assert "analytical" in str(info.value) and "numerical" in str(info.value)


def test_gradcheck_returns_false_for_a_wrong_gradient_without_raise_exception(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    result = tg.gradcheck(lambda a, b: apply(MulWithWrongGradient(), a, b), (a, b), raise_exception=False)
    assert result is False


def test_gradcheck_treats_a_nan_gradient_as_a_mismatch():
    x = leaf([[1.0, 2.0], [-1.0, 3.0]])
    with pytest.raises(tg.GradcheckError, match=r"input 0 at element \(1, 0\)"):
        tg.gradcheck(lambda x: apply(SquareWithNanGradient(), x), (x,))
    assert tg.gradcheck(lambda x: apply(SquareWithNanGradient(), x), (x,), raise_exception=False) is False


def test_gradcheck_catches_a_wrong_gradient_in_a_scalar_output(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (2, 3))
    with pytest.raises(tg.GradcheckError, match=r"input 1 at element \(1, 2\), output element 0"):
        tg.gradcheck(lambda a, b: apply(MulWithWrongGradient(), a, b).sum(), (a, b))


def test_gradcheck_tolerances_decide_the_verdict(rng):
    # a 1% error in the gradient of b at one element: caught by default, accepted with rtol=5%
    class SlightlyOff(MulWithWrongGradient):
        def backward(self, grad, a, b, out):
            return grad * b, grad * a * 1.01

    a, b = normal(rng, (2,)), normal(rng, (2,))
    fn = lambda a, b: apply(SlightlyOff(), a, b)  # noqa: E731
    assert tg.gradcheck(fn, (a, b), raise_exception=False) is False
    assert tg.gradcheck(fn, (a, b), rtol=0.05) is True


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
def test_gradcheck_with_a_non_float64_input_raises_type_error(dtype, rng):
    x = normal(rng, (3,), dtype=dtype)
    with pytest.raises(TypeError, match=r"input 0 is float(32|16).*float64"):
        tg.gradcheck(lambda x: x * 2, (x,))


def test_gradcheck_without_an_input_that_requires_grad_raises(rng):
    with pytest.raises(ValueError, match="nothing to check"):
        tg.gradcheck(lambda x: x * 2, (normal(rng, (3,), requires_grad=False),))


def test_gradcheck_rejects_a_function_that_does_not_return_a_tensor(rng):
    with pytest.raises(TypeError, match="must return a Tensor"):
        tg.gradcheck(lambda x: x.data * 2, (normal(rng, (3,)),))


def test_gradcheck_passes_a_function_that_ignores_its_input(rng):
    x = normal(rng, (3,))
    assert tg.gradcheck(lambda x: tg.tensor(np.ones(2)), (x,)) is True


def test_gradcheck_leaves_inputs_values_and_grads_as_they_were(rng):
    x = normal(rng, (2, 3))
    before = x.data.copy()
    assert tg.gradcheck(lambda x: (x * x).sum(axis=0), (x,)) is True
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None
    x.grad = tg.tensor(np.full((2, 3), 7.0))
    tg.gradcheck(lambda x: x.exp(), (x,))
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 7.0))


def test_gradcheck_rejects_a_non_contiguous_input(rng):
    x = tg.Tensor(rng.standard_normal((3, 4)).T, requires_grad=True)
    with pytest.raises(ValueError, match="contiguous"):
        tg.gradcheck(lambda x: x * 2, (x,))


class _CubeWithConstantDerivative(Op):
    """x**3 whose backward treats x as a constant: right first derivative, wrong second."""

    __slots__ = ()
    name = "cube"

    def forward(self, a):
        return a**3

    def backward(self, grad, a, out):
        return grad * (3 * constant(a) ** 2)


def test_gradgradcheck_passes_true_second_derivatives_and_catches_wrong_ones(rng):
    x = normal(rng, (4,))
    assert tg.gradgradcheck(lambda x: x * x * x, (x,)) is True
    assert tg.gradcheck(lambda x: apply(_CubeWithConstantDerivative(), x), (x,)) is True
    assert (
        tg.gradgradcheck(lambda x: apply(_CubeWithConstantDerivative(), x), (x,), raise_exception=False)
        is False
    )


def test_second_derivatives_through_ops_that_may_scale_in_place(rng):
    # Mul with one operand constant, relu, tanh and sigmoid use Op.times, which scales in place only in
    # a first-order backward; a create_graph backward of a node that never ran one must work as well
    x, c = normal(rng, (3,)), normal(rng, (3,), requires_grad=False)
    assert tg.gradgradcheck(lambda x: (x * c) * x, (x,)) is True
    assert tg.gradgradcheck(lambda x: x.tanh() * x.sigmoid(), (x,)) is True
