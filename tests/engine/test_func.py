"""Function transforms and worked second-order examples, each against finite differences in float64.

Hessians of an MLP loss, a Newton step, a gradient penalty (WGAN-GP style), a MAML inner step, Jacobians,
jvp and hvp: the uses people reach higher-order derivatives for.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import func

from .helpers import leaf, normal


def numerical_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences: shape f(x).shape + x.shape. `f` maps an ndarray to an ndarray."""
    x = np.array(x, dtype=np.float64)
    columns = []
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = eps
        step = step.reshape(x.shape)
        columns.append((np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps))
    out_shape = np.shape(f(x))
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


def on_arrays(f):
    """A function of Tensors as a function of ndarrays (for finite differences)."""
    return lambda *arrays: f(*[tg.tensor(a) for a in arrays]).data


# ----- a small MLP whose parameters are one flat vector
SIZES = (3, 4, 2)
PARAMETER_COUNT = 3 * 4 + 4 + 4 * 2 + 2


def mlp_loss(theta, x, labels):
    """Mean cross-entropy of a 3-4-2 tanh MLP whose weights and biases are slices of `theta`."""
    w1 = theta[0:12].reshape(4, 3)
    b1 = theta[12:16]
    w2 = theta[16:24].reshape(2, 4)
    b2 = theta[24:26]
    hidden = F.linear(x, w1, b1).tanh()
    return F.cross_entropy(F.linear(hidden, w2, b2), labels)


@pytest.fixture
def mlp_data(rng):
    x = normal(rng, (5, 3), requires_grad=False)
    labels = tg.tensor(np.array([0, 1, 1, 0, 1]))
    theta = normal(rng, (PARAMETER_COUNT,), requires_grad=False)
    return theta, x, labels


def test_hessian_of_an_mlp_loss_equals_finite_differences_of_its_gradient(mlp_data):
    theta, x, labels = mlp_data
    hessian = func.hessian(mlp_loss)(theta, x, labels)
    assert hessian.shape == (PARAMETER_COUNT, PARAMETER_COUNT)
    gradient = on_arrays(lambda t: func.grad(mlp_loss)(t, x, labels))
    expected = numerical_jacobian(gradient, theta.data)
    np.testing.assert_allclose(hessian.data, expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hessian.data, hessian.data.T, rtol=1e-12, atol=1e-14)


def test_hessian_with_respect_to_one_weight_matrix_equals_finite_differences(rng):
    x, labels = normal(rng, (5, 3), requires_grad=False), tg.tensor(np.array([0, 1, 1, 0, 1]))
    w1, w2 = normal(rng, (4, 3), requires_grad=False), normal(rng, (2, 4), requires_grad=False)

    def loss(w1, w2):
        return F.cross_entropy(F.linear(F.linear(x, w1).tanh(), w2), labels)

    hessian = func.hessian(loss, argnums=1)(w1, w2)
    assert hessian.shape == (2, 4, 2, 4)
    gradient = on_arrays(lambda w: func.grad(loss, argnums=1)(w1, w))
    np.testing.assert_allclose(hessian.data, numerical_jacobian(gradient, w2.data), rtol=1e-5, atol=1e-8)


def test_one_newton_step_solves_a_quadratic_exactly(rng):
    m = rng.standard_normal((4, 4))
    a = tg.tensor(m @ m.T + 4 * np.eye(4))  # symmetric positive definite
    b = tg.tensor(rng.standard_normal(4))

    def quadratic(x):
        return 0.5 * (x @ (a @ x)) - b @ x + 3.0

    x0 = tg.tensor(rng.standard_normal(4))
    gradient, hessian = func.grad(quadratic)(x0), func.hessian(quadratic)(x0)
    np.testing.assert_allclose(hessian.data, a.data, rtol=1e-13)
    x1 = x0.data - np.linalg.solve(hessian.data, gradient.data)
    np.testing.assert_allclose(x1, np.linalg.solve(a.data, b.data), rtol=1e-12)
    np.testing.assert_allclose(func.grad(quadratic)(tg.tensor(x1)).data, 0.0, atol=1e-12)


# ----- a gradient penalty: the norm of d critic / d input in the loss, as WGAN-GP has it
def critic(x, w1, w2):
    return (x @ w1).tanh() @ w2


def penalized_loss(w1, w2, x, weight: float = 10.0):
    """mean critic(x) + weight * mean over samples of (||d critic / d x_i|| - 1)^2."""
    if not x.requires_grad:
        x = x.detach().requires_grad_()
    scores = critic(x, w1, w2)
    (grad_x,) = tg.autograd.grad(scores.sum(), [x], create_graph=True)
    norms = ((grad_x * grad_x).sum(axis=1) + 1e-12) ** 0.5
    return scores.mean() + weight * ((norms - 1.0) ** 2).mean()


def test_gradient_penalty_gradient_equals_finite_differences(rng):
    w1, w2 = normal(rng, (3, 4)), normal(rng, (4,))
    x = normal(rng, (6, 3), requires_grad=False)
    assert tg.gradcheck(lambda w1, w2: penalized_loss(w1, w2, x), (w1, w2)) is True


def test_gradient_penalty_loss_falls_under_gradient_descent(rng):
    w1 = leaf(rng.standard_normal((3, 8)) * 2.0)
    w2 = leaf(rng.standard_normal(8) * 2.0)
    x = normal(rng, (32, 3), requires_grad=False)
    optimizer = tg.optim.SGD([w1, w2], lr=0.01)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = penalized_loss(w1, w2, x)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(np.isfinite(losses))


# ----- a MAML-style inner step: the outer gradient flows through the inner gradient
def maml_outer_loss(w, support, query, lr: float = 0.1):
    """Query loss after one gradient step on the support loss, keeping that step in the graph."""
    (xs, ys), (xq, yq) = support, query
    inner = (((xs @ w).tanh() - ys) ** 2).mean()
    (grad_w,) = tg.autograd.grad(inner, [w], create_graph=True)
    adapted = w - lr * grad_w
    return (((xq @ adapted).tanh() - yq) ** 2).mean()


def test_maml_outer_gradient_equals_finite_differences(rng):
    support = (normal(rng, (5, 3), requires_grad=False), normal(rng, (5, 2), requires_grad=False))
    query = (normal(rng, (4, 3), requires_grad=False), normal(rng, (4, 2), requires_grad=False))
    w = normal(rng, (3, 2))
    maml_outer_loss(w, support, query).backward()
    expected = numerical_jacobian(
        on_arrays(lambda w: maml_outer_loss(w.requires_grad_(), support, query)), w.data
    )
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-6, atol=1e-9)


def test_maml_outer_gradient_differs_from_the_first_order_approximation(rng):
    support = (normal(rng, (5, 3), requires_grad=False), normal(rng, (5, 2), requires_grad=False))
    query = (normal(rng, (4, 3), requires_grad=False), normal(rng, (4, 2), requires_grad=False))
    w = normal(rng, (3, 2))
    (full,) = tg.autograd.grad(maml_outer_loss(w, support, query), [w])
    # first-order MAML drops the inner step's second derivative: the gradient at the adapted weights
    (xs, ys), (xq, yq) = support, query
    (inner,) = tg.autograd.grad((((xs @ w).tanh() - ys) ** 2).mean(), [w])
    adapted = (w.detach() - 0.1 * inner).requires_grad_()
    (first_order,) = tg.autograd.grad((((xq @ adapted).tanh() - yq) ** 2).mean(), [adapted])
    assert np.abs(full.data - first_order.data).max() > 1e-4


# ----- Jacobians, jvp, vjp, hvp
def vector_function(x, y):
    """R^3 x R^2 -> R^4, with every kind of dependence."""
    first = (x * x).sum() * y[0]
    rest = (x.reshape(3, 1) * y.reshape(1, 2)).tanh().sum(axis=1)
    return tg.index_add(first.reshape(1), ([0],), (4,)) + tg.index_add(rest, ([1, 2, 3],), (4,))


@pytest.fixture
def xy(rng):
    return normal(rng, (3,), requires_grad=False), normal(rng, (2,), requires_grad=False)


def test_jacrev_of_a_vector_function_equals_the_finite_difference_jacobian(xy):
    x, y = xy
    jacobian = func.jacrev(vector_function)(x, y)
    assert jacobian.shape == (4, 3)
    expected = numerical_jacobian(lambda a: vector_function(tg.tensor(a), y).data, x.data)
    np.testing.assert_allclose(jacobian.data, expected, rtol=1e-7, atol=1e-10)
    assert func.jacobian is func.jacrev


def test_jacrev_with_a_tuple_of_argnums_gives_one_jacobian_per_argument(xy):
    x, y = xy
    jx, jy = func.jacrev(vector_function, argnums=(0, 1))(x, y)
    assert (jx.shape, jy.shape) == ((4, 3), (4, 2))
    expected_y = numerical_jacobian(lambda b: vector_function(x, tg.tensor(b)).data, y.data)
    np.testing.assert_allclose(jy.data, expected_y, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(jx.data, func.jacrev(vector_function)(x, y).data, rtol=1e-15)


def test_jvp_equals_the_jacobian_times_the_tangent(xy, rng):
    x, y = xy
    tx, ty = tg.tensor(rng.standard_normal(3)), tg.tensor(rng.standard_normal(2))
    out, tangent_out = func.jvp(vector_function, (x, y), (tx, ty))
    jx, jy = func.jacrev(vector_function, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(out.data, vector_function(x, y).data, rtol=1e-15)
    np.testing.assert_allclose(tangent_out.data, jx.data @ tx.data + jy.data @ ty.data, rtol=1e-12)
    assert not out.requires_grad and not tangent_out.requires_grad


def test_vjp_equals_the_cotangent_times_the_jacobian(xy, rng):
    x, y = xy
    out, vjp_fn = func.vjp(vector_function, x, y)
    np.testing.assert_allclose(out.data, vector_function(x, y).data, rtol=1e-15)
    cotangent = tg.tensor(rng.standard_normal(4))
    vx, vy = vjp_fn(cotangent)
    jx, jy = func.jacrev(vector_function, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(vx.data, cotangent.data @ jx.data, rtol=1e-12)
    np.testing.assert_allclose(vy.data, cotangent.data @ jy.data, rtol=1e-12)
    again = vjp_fn(cotangent)  # the graph is kept for further products
    np.testing.assert_array_equal(again[0].data, vx.data)


def test_hvp_equals_the_hessian_times_the_vector(mlp_data, rng):
    theta, x, labels = mlp_data
    v = tg.tensor(rng.standard_normal(PARAMETER_COUNT))
    value, (product,) = func.hvp(lambda t: mlp_loss(t, x, labels), (theta,), (v,))
    hessian = func.hessian(mlp_loss)(theta, x, labels)
    np.testing.assert_allclose(product.data, hessian.data @ v.data, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(value.data, mlp_loss(theta, x, labels).data, rtol=1e-15)


def test_grad_of_grad_is_the_second_derivative_of_a_scalar_function():
    def f(x):
        return x**3 * x.exp()

    second = func.grad(func.grad(f))
    third = func.grad(func.grad(func.grad(f)))
    for value in (-1.3, 0.2, 2.0):
        x = tg.tensor(np.float64(value))
        np.testing.assert_allclose(
            second(x).item(), (6 * value + 6 * value**2 + value**3) * np.exp(value), rtol=1e-13
        )
        third_expected = (6 + 18 * value + 9 * value**2 + value**3) * np.exp(value)
        np.testing.assert_allclose(third(x).item(), third_expected, rtol=1e-13)


def test_grad_with_has_aux_returns_the_auxiliary_value_untouched(rng):
    x = normal(rng, (3,), requires_grad=False)

    def f(x):
        y = x.tanh()
        return (y * y).sum(), {"activations": y}

    gradient, aux = func.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(gradient.data, 2 * np.tanh(x.data) * (1 - np.tanh(x.data) ** 2), rtol=1e-14)
    np.testing.assert_allclose(aux["activations"].data, np.tanh(x.data), rtol=1e-15)
    (value, aux), gradient_again = func.value_and_grad(f, has_aux=True)(x)
    np.testing.assert_allclose(value.item(), (np.tanh(x.data) ** 2).sum(), rtol=1e-14)
    np.testing.assert_array_equal(gradient_again.data, gradient.data)


def test_grad_with_a_tuple_of_argnums_gives_a_tuple_and_leaves_other_arguments_alone(rng):
    a, b, c = (normal(rng, (2,), requires_grad=False) for _ in range(3))

    def f(a, b, c):
        return (a * b * c).sum()

    ga, gc = func.grad(f, argnums=(0, 2))(a, b, c)
    np.testing.assert_allclose(ga.data, b.data * c.data, rtol=1e-15)
    np.testing.assert_allclose(gc.data, a.data * b.data, rtol=1e-15)
    (only_b,) = func.grad(f, argnums=(1,))(a, b, c)
    np.testing.assert_allclose(only_b.data, a.data * c.data, rtol=1e-15)
    assert not any(t.requires_grad for t in (a, b, c)) and all(t.grad is None for t in (a, b, c))


def test_value_and_grad_returns_the_value_and_the_gradient(rng):
    x = normal(rng, (4,), requires_grad=False)
    value, gradient = func.value_and_grad(lambda x: (x.exp()).sum())(x)
    np.testing.assert_allclose(value.item(), np.exp(x.data).sum(), rtol=1e-15)
    np.testing.assert_allclose(gradient.data, np.exp(x.data), rtol=1e-15)
    assert not value.requires_grad and not gradient.requires_grad


def test_grad_of_a_function_that_ignores_its_argument_is_zero(rng):
    x = normal(rng, (3,), requires_grad=False)
    np.testing.assert_array_equal(func.grad(lambda x: tg.tensor(2.0))(x).data, np.zeros(3))
    np.testing.assert_array_equal(func.hessian(lambda x: (x * 2.0).sum())(x).data, np.zeros((3, 3)))


def test_transforms_refuse_non_scalar_outputs_and_integer_arguments(rng):
    x = normal(rng, (3,), requires_grad=False)
    with pytest.raises(RuntimeError, match="one element"):
        func.grad(lambda x: x * 2)(x)
    with pytest.raises(TypeError, match="floating point"):
        func.grad(lambda n: n.sum())(tg.tensor(np.arange(3)))
    with pytest.raises(TypeError, match="argument 1 must be a Tensor"):
        func.grad(lambda x, k: x.sum() * k, argnums=1)(x, 2.0)


def test_transforms_compose_forward_over_reverse_and_reverse_over_reverse(mlp_data, rng):
    theta, x, labels = mlp_data
    v = tg.tensor(rng.standard_normal(PARAMETER_COUNT))

    def loss(t):
        return mlp_loss(t, x, labels)

    _, forward_over_reverse = func.jvp(func.grad(loss), (theta,), (v,))
    _, (reverse_over_reverse,) = func.hvp(loss, (theta,), (v,))
    np.testing.assert_allclose(forward_over_reverse.data, reverse_over_reverse.data, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        func.jacrev(func.grad(loss))(theta).data, func.hessian(loss)(theta).data, rtol=1e-13
    )
