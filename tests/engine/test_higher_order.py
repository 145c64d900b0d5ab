"""Every op differentiates twice (gradgradcheck, float64) and a few three times; the table covers every op.

`CASES` has one line per case: the op it exercises (its name in `tensorgrad.ops.OPS`, or a function built
from ops, such as dropout), a label, the function, and how to make its inputs. An op registered later fails
`test_every_registered_op_has_a_second_order_case` until it gets a line here.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import func
from tensorgrad.ops import OPS

from .helpers import away_from_zero, distinct, leaf, normal, positive
from .model_ops_cases import CASES as MODEL_OP_CASES


class Case(NamedTuple):
    op: str
    label: str
    fn: object
    inputs: tuple  # makers: each takes the test's rng and returns one argument of fn
    tolerances: dict | None = None  # gradcheck keywords where the defaults do not fit


def N(*shape):
    """A float64 leaf of standard normal values."""
    return lambda rng: normal(rng, shape)


def P(*shape):
    """A float64 leaf with values in [0.5, 2]: log, division, a base of pow."""
    return lambda rng: positive(rng, shape)


def A(*shape):
    """A float64 leaf with |values| in [0.5, 2]: no kink of relu within a step."""
    return lambda rng: away_from_zero(rng, shape)


def D(*shape):
    """A float64 leaf of values at least 0.25 apart: every maximum is unique."""
    return lambda rng: distinct(rng, shape)


def K(value):
    """A constant argument (not differentiated): an index array, a target, a mask."""
    return lambda rng: value


def probabilities(*shape):
    """Rows of class probabilities that require grad (a soft target)."""

    def make(rng):
        p = rng.uniform(0.1, 1.0, shape)
        return leaf(p / p.sum(axis=-1, keepdims=True))

    return make


MASK = np.array([[True, False, True], [False, True, True]])
LABELS = np.array([2, 0, 1, 2])
# float32 rounds a finite-difference step of 1e-6: a cast is checked with a coarser step
CAST_TOLERANCES = {"eps": 1e-3, "atol": 1e-4, "rtol": 1e-3}

CASES = [
    Case("add", "broadcast row", operator.add, (N(2, 3), N(3))),
    Case("sub", "broadcast column", operator.sub, (N(2, 3), N(2, 1))),
    Case("mul", "broadcast", operator.mul, (N(2, 3), N(3))),
    Case("mul", "same tensor twice", lambda x: x * x, (N(2, 3),)),
    Case("div", "both operands", operator.truediv, (N(2, 3), P(2, 1))),
    Case("div", "scalar / tensor", lambda x: 2.0 / x, (P(2, 3),)),
    Case("neg", "", operator.neg, (N(2, 3),)),
    Case("pow", "tensor ** scalar", lambda x: x**3, (N(2, 3),)),
    Case("pow", "tensor ** fraction", lambda x: x**2.5, (P(2, 3),)),
    Case("pow", "scalar ** tensor", lambda x: 2.0**x, (N(2, 3),)),
    Case("pow", "tensor ** tensor", operator.pow, (P(2, 3), N(3))),
    Case("exp", "", tg.exp, (N(2, 3),)),
    Case("log", "", tg.log, (P(2, 3),)),
    Case("relu", "away from the kink", tg.relu, (A(2, 3),)),
    Case("tanh", "", tg.tanh, (N(2, 3),)),
    Case("sigmoid", "", tg.sigmoid, (N(2, 3),)),
    Case("where", "both sides, broadcast", lambda a, b: tg.where(MASK, a, b), (N(2, 3), N(3))),
    Case("where", "a constant side", lambda a: tg.where(MASK, a * a, 0.5), (N(2, 3),)),
    Case("to", "float64 -> float32 -> float64", lambda x: (x.to(np.float32) * 2).double(), (N(2, 3),), CAST_TOLERANCES),
    Case("matmul", "1-D @ 1-D", operator.matmul, (N(3), N(3))),
    Case("matmul", "1-D @ 2-D", operator.matmul, (N(3), N(3, 2))),
    Case("matmul", "2-D @ 1-D", operator.matmul, (N(2, 3), N(3))),
    Case("matmul", "2-D @ 2-D", operator.matmul, (N(2, 3), N(3, 2))),
    Case("matmul", "batched", operator.matmul, (N(2, 2, 3), N(2, 3, 2))),
    Case("matmul", "broadcast batch", operator.matmul, (N(2, 1, 2, 3), N(3, 3, 2))),
    Case("matmul", "1-D @ batched", operator.matmul, (N(3), N(2, 3, 2))),
    Case("linear", "with bias", F.linear, (N(4, 3), N(2, 3), N(2))),
    Case("linear", "without bias", F.linear, (N(4, 3), N(2, 3))),
    Case("linear", "3-D input", F.linear, (N(2, 2, 3), N(2, 3), N(2))),
    Case("linear", "1-D input", F.linear, (N(3), N(2, 3), N(2))),
    Case("sum", "all", lambda x: (x * x).sum(), (N(2, 3, 2),)),
    Case("sum", "axis 1", lambda x: (x * x).sum(axis=1), (N(2, 3, 2),)),
    Case("sum", "axes (0, 2) keepdims", lambda x: (x * x).sum(axis=(0, 2), keepdims=True), (N(2, 3, 2),)),
    Case("mean", "all", lambda x: (x * x).mean(), (N(2, 3, 2),)),
    Case("mean", "axis -1", lambda x: (x * x).mean(axis=-1), (N(2, 3, 2),)),
    Case("mean", "axes (0, 1) keepdims", lambda x: (x * x).mean(axis=(0, 1), keepdims=True), (N(2, 3, 2),)),
    Case("max", "all", lambda x: (x * x).max(), (D(2, 3, 2),)),
    Case("max", "axis 1", lambda x: (x * x).max(axis=1), (D(2, 3, 2),)),
    Case("max", "axes (0, 2) keepdims", lambda x: x.max(axis=(0, 2), keepdims=True) ** 2, (D(2, 3, 2),)),
    Case("reshape", "", lambda x: (x * x).reshape(3, 2, 2), (N(2, 6),)),
    Case("permute", "permute", lambda x: (x * x).permute(2, 0, 1), (N(2, 3, 2),)),
    Case("permute", "transpose of two axes", lambda x: (x * x).transpose(0, 2), (N(2, 3, 2),)),
    Case("permute", ".T", lambda x: (x * x).T, (N(2, 3),)),
    Case("__getitem__", "slice", lambda x: (x * x)[:, 1:], (N(2, 3),)),
    Case("__getitem__", "repeated rows", lambda x: (x * x)[[0, 0, 1]], (N(2, 3),)),
    Case("__getitem__", "repeated pairs", lambda x: (x * x)[[0, 0, 1], [2, 2, 2]], (N(2, 3),)),
    Case("__getitem__", "boolean mask", lambda x: (x * x)[MASK], (N(2, 3),)),
    Case("broadcast_to", "", lambda x: (x * x).broadcast_to(2, 3, 4), (N(3, 1),)),
    Case("sum_to_size", "", lambda x: (x * x).sum_to_size(3, 1), (N(2, 3, 4),)),
    Case("index_add", "repeated indices", lambda x: tg.index_add(x * x, ([0, 0, 1],), (3, 2)), (N(3, 2),)),
    Case("softmax", "last axis", lambda x: x.softmax(-1), (N(2, 4),)),
    Case("softmax", "axis 0", lambda x: x.softmax(0), (N(3, 2),)),
    Case("log_softmax", "last axis", lambda x: x.log_softmax(-1), (N(2, 4),)),
    Case("log_softmax", "axis 0", lambda x: x.log_softmax(0), (N(3, 2),)),
    Case("cross_entropy", "index target, mean", lambda z: F.cross_entropy(z, LABELS), (N(4, 3),)),
    Case("cross_entropy", "index target, sum", lambda z: F.cross_entropy(z, LABELS, reduction="sum"), (N(4, 3),)),
    Case("cross_entropy", "index target, none", lambda z: F.cross_entropy(z, LABELS, reduction="none"), (N(4, 3),)),
    Case("cross_entropy", "probability target, mean", F.cross_entropy, (N(4, 3), probabilities(4, 3))),
    Case("cross_entropy", "probability target, sum", lambda z, t: F.cross_entropy(z, t, reduction="sum"), (N(4, 3), probabilities(4, 3))),
    Case("cross_entropy", "probability target, none", lambda z, t: F.cross_entropy(z, t, reduction="none"), (N(4, 3), probabilities(4, 3))),
    Case("dropout", "fixed mask from a seed", lambda x: F.dropout(x * x, 0.4, rng=3), (N(3, 4),)),
    Case("l2_penalty", "two weights", lambda a, b: F.l2_penalty([a, b], 0.3), (N(2, 3), N(3))),
    Case("l2_penalty", "one weight, scaled", lambda w: F.l2_penalty([w * w], 1.5), (N(2, 2),)),
    # piecewise-linear ops of the model vocabulary: away from their kinks and ties, the second derivative is
    # zero and the first is linear in the incoming gradient, which gradgradcheck checks too
    Case("abs", "away from 0", tg.abs, (A(2, 3),)),
    Case("clamp", "inside and outside the bounds", lambda x: x.clamp(-0.8, 0.8), (A(2, 3),)),
    Case("leaky_relu", "away from the kink", lambda x: F.leaky_relu(x, 0.1), (A(2, 3),)),
    # |x| >= 0.5 against |0.1 y| < 0.5 (almost surely): never within a finite-difference step of a tie
    Case("maximum", "broadcast, no ties", lambda x, y: tg.maximum(x, 0.1 * y), (A(2, 3), N(3))),
    Case("minimum", "broadcast, no ties", lambda x, y: tg.minimum(0.1 * y, x), (A(2, 3), N(2, 1))),
    Case("min", "over an axis", lambda x: x.min(axis=1), (D(2, 3),)),
    # convolution, pooling and batch norm; their third-order cases (below) run the backward of the adjoint
    # ops their derivatives record (conv2d_input, conv2d_weight, window_scatter/gather, avg_pool2d_adjoint)
    Case("conv2d", "stride, padding, groups", lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=2), (N(1, 2, 5, 5), N(2, 1, 3, 3))),
    Case("max_pool2d", "overlapping windows, distinct values", lambda x: F.max_pool2d(x, 3, 2, padding=1), (D(1, 1, 5, 5),)),
    Case("avg_pool2d", "overlapping, padded", lambda x: F.avg_pool2d(x, 3, 2, padding=1), (N(1, 2, 5, 5),)),
    Case("batch_normalize", "training statistics", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (N(4, 3, 2, 2), N(3), N(3))),
    Case("batch_norm_running", "running statistics", lambda x, w, b: F.batch_norm(x, np.array([0.1, -0.2, 0.3]), np.array([0.5, 1.5, 2.0]), w, b), (N(4, 3, 2, 2), N(3), N(3))),
]  # fmt: skip


def _case_id(case: Case) -> str:
    return f"{case.op}: {case.label}" if case.label else case.op


def _inputs(case: Case, rng) -> tuple:
    return tuple(make(rng) for make in case.inputs)


def test_every_registered_op_has_a_second_order_case():
    # the model-vocabulary table (model_ops_cases) gradgradchecks its ops too: a case "gelu_tanh" covers gelu
    covered = {case.op for case in CASES}
    vocabulary = [case.name for case in MODEL_OP_CASES if case.second_order]
    covered |= {op for op in OPS if any(name == op or name.startswith(op + "_") for name in vocabulary)}
    # ops that only derivatives record: covered by the third-order cases of the op whose backward they are
    adjoints = {"conv2d_input": "conv2d", "conv2d_weight": "conv2d", "avg_pool2d_adjoint": "avg_pool2d",
                "window_scatter": "max_pool2d", "window_gather": "max_pool2d"}  # fmt: skip
    covered |= {adjoint for adjoint, primal in adjoints.items() if primal in covered}
    missing = sorted(set(OPS) - covered)
    assert not missing, f"ops without a gradgradcheck case in CASES: {missing}"


def test_every_case_names_a_registered_op_or_a_composed_function():
    composed = {"dropout"}  # a multiply by a constant mask, not an op of its own
    unknown = sorted({case.op for case in CASES} - set(OPS) - composed)
    assert not unknown, f"CASES name ops that are not registered: {unknown}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_first_derivatives_pass_gradcheck(case, rng):
    assert tg.gradcheck(case.fn, _inputs(case, rng), **(case.tolerances or {})) is True


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_second_derivatives_pass_gradgradcheck(case, rng):
    assert tg.gradgradcheck(case.fn, _inputs(case, rng), **(case.tolerances or {})) is True


def _first_derivatives(fn, inputs, seed: int = 1):
    """fn's vector-Jacobian products against fixed random cotangents, recorded (create_graph)."""
    outputs = fn(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    rng = np.random.default_rng(seed)
    cotangents = [tg.tensor(rng.standard_normal(o.shape)) for o in outputs]
    positions = [i for i, x in enumerate(inputs) if isinstance(x, tg.Tensor) and x.requires_grad]

    def derivatives(*args):
        values = fn(*args)
        values = values if isinstance(values, tuple) else (values,)
        wrt = [args[i] for i in positions]
        grads = tg.autograd.grad(values, wrt, cotangents, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else tg.tensor(np.zeros(x.shape)) for g, x in zip(grads, wrt))

    return derivatives


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_third_derivatives_pass_gradgradcheck_of_the_recorded_first_derivatives(case, rng):
    inputs = _inputs(case, rng)
    assert tg.gradgradcheck(_first_derivatives(case.fn, inputs), inputs, **(case.tolerances or {})) is True


def _second_derivative(f):
    """x, v, w -> d/dx <w, d/dx <v, f(x)>>: the Hessian-like contraction, recorded so it can be checked."""

    def second(x, v, w):
        (first,) = tg.autograd.grad(f(x), [x], v, create_graph=True)
        (second,) = tg.autograd.grad(first, [x], w, create_graph=True)
        return second

    return second


THIRD_ORDER = {
    "exp": (tg.exp, N(2, 3)),
    "tanh": (tg.tanh, N(2, 3)),
    "tensor ** scalar": (lambda x: x**3.5, P(2, 3)),
    "scalar ** tensor": (lambda x: 1.7**x, N(2, 3)),
    "tensor ** tensor": (lambda x: x**x, P(2, 3)),
    "softmax": (lambda x: x.softmax(-1), N(2, 4)),
}


@pytest.mark.parametrize("name", list(THIRD_ORDER))
def test_third_derivatives_by_gradcheck_of_a_recorded_second_derivative(name, rng):
    f, make = THIRD_ORDER[name]
    x = make(rng)
    v, w = normal(rng, x.shape), normal(rng, x.shape)
    assert tg.gradcheck(_second_derivative(f), (x, v, w)) is True


def test_fourth_derivative_of_exp_by_gradgradcheck_of_a_recorded_second_derivative(rng):
    x, v, w = normal(rng, (2, 2)), normal(rng, (2, 2)), normal(rng, (2, 2))
    assert tg.gradgradcheck(_second_derivative(tg.exp), (x, v, w)) is True


# ----- broadcastable shape pairs, property-based
BINARY_SECOND_ORDER = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
}
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None)
shape_pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)
seeds = st.integers(0, 2**32 - 1)


@pytest.mark.parametrize("name", list(BINARY_SECOND_ORDER))
@PROPERTY_SETTINGS
@given(shapes=shape_pairs, seed=seeds)
def test_binary_op_second_derivatives_over_broadcastable_shapes(name, shapes, seed):
    (shape_a, shape_b), _ = shapes
    rng = np.random.default_rng(seed)
    # a positive left operand (a base of pow), a right one away from zero (a divisor)
    a, b = positive(rng, shape_a), away_from_zero(rng, shape_b)
    assert tg.gradgradcheck(BINARY_SECOND_ORDER[name], (a, b)) is True


@PROPERTY_SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=seeds)
def test_where_second_derivatives_over_broadcastable_shapes(shapes, seed):
    (shape_condition, shape_a, shape_b), _ = shapes
    rng = np.random.default_rng(seed)
    condition = rng.random(shape_condition) < 0.5
    a, b = normal(rng, shape_a), normal(rng, shape_b)
    assert tg.gradgradcheck(lambda a, b: tg.where(condition, a * a, b * a.sum()), (a, b)) is True


@PROPERTY_SETTINGS
@given(
    batches=mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=2),
    sizes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    seed=seeds,
)
def test_matmul_second_derivatives_over_broadcast_batch_shapes(batches, sizes, seed):
    (batch_a, batch_b), _ = batches
    n, k, m = sizes
    rng = np.random.default_rng(seed)
    a, b = normal(rng, (*batch_a, n, k)), normal(rng, (*batch_b, k, m))
    assert tg.gradgradcheck(operator.matmul, (a, b)) is True


# ----- rules at kinks, where finite differences cannot speak
def test_max_with_ties_has_a_zero_second_derivative_and_a_first_derivative_linear_in_the_cotangent():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    cotangent = leaf([1.5, -2.0])
    (first,) = tg.autograd.grad(x.max(axis=1), [x], cotangent, create_graph=True)
    np.testing.assert_allclose(first.data, [[0.0, 0.75, 0.75], [-2 / 3, -2 / 3, -2 / 3]], rtol=1e-15)
    weights = np.arange(6.0).reshape(2, 3)
    second_x, second_cotangent = tg.autograd.grad((first * weights).sum(), [x, cotangent], allow_unused=True)
    assert second_x is None  # the tie shares are constants: nothing of x reaches the first derivative
    np.testing.assert_allclose(second_cotangent.data, [(1 + 2) / 2, (3 + 4 + 5) / 3], rtol=1e-15)


def test_relu_gradient_at_zero_is_zero_and_its_hessian_only_comes_from_its_input():
    x = leaf([-1.0, 0.0, 2.0])
    (first,) = tg.autograd.grad(tg.relu(x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(first.data, [0.0, 0.0, 1.0])
    hessian = func.hessian(lambda x: tg.relu(x * x * x).sum())(leaf([-1.0, 0.0, 2.0], requires_grad=False))
    np.testing.assert_allclose(hessian.data, np.diag([0.0, 0.0, 12.0]), rtol=1e-15)  # 6x where x**3 > 0
