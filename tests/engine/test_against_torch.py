"""Second-order results, custom Functions and hooks against PyTorch itself (float64, the same numbers).

PyTorch is a test reference only (scripts/setup.sh installs the CPU build); the library never imports it.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import func

from .helpers import leaf


@contextlib.contextmanager
def torch_warnings_ignored():
    """Torch's own warnings (a deprecation inside torch.func, its create_graph reference-cycle note) are not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def torch_leaf(values) -> torch.Tensor:
    return torch.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def mlp_weights(rng, sizes=(6, 5, 4, 3)):
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(
            (rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in), rng.standard_normal(fan_out) * 0.1)
        )
    return layers


def tg_mlp_loss(params, x, labels, lam):
    hidden = x
    weights = params[0::2]
    for i, (w, b) in enumerate(zip(params[0::2], params[1::2])):
        hidden = F.linear(hidden, w, b)
        if i < len(weights) - 1:
            hidden = hidden.tanh()
    return F.cross_entropy(hidden, labels) + F.l2_penalty(weights, lam)


def torch_mlp_loss(params, x, labels, lam):
    hidden = x
    weights = params[0::2]
    for i, (w, b) in enumerate(zip(params[0::2], params[1::2])):
        hidden = torch.nn.functional.linear(hidden, w, b)
        if i < len(weights) - 1:
            hidden = hidden.tanh()
    return torch.nn.functional.cross_entropy(hidden, labels) + lam / 2 * sum((w * w).sum() for w in weights)


def test_double_backward_of_an_mlp_loss_matches_torch(rng):
    layers = mlp_weights(rng)
    flat = [array for layer in layers for array in layer]
    x = rng.standard_normal((8, 6))
    labels = rng.integers(0, 3, 8)
    vectors = [rng.standard_normal(a.shape) for a in flat]

    ours = [leaf(a) for a in flat]
    loss = tg_mlp_loss(ours, tg.tensor(x), tg.tensor(labels), 0.05)
    grads = tg.autograd.grad(loss, ours, create_graph=True)
    # the gradient of ||grad||^2 (a gradient penalty on the weights) and a Hessian-vector product
    penalty = sum((g * g).sum() for g in grads)
    penalty_grads = tg.autograd.grad(penalty, ours, retain_graph=True)
    hvp = tg.autograd.grad(sum((g * tg.tensor(v)).sum() for g, v in zip(grads, vectors)), ours)

    theirs = [torch_leaf(a) for a in flat]
    t_loss = torch_mlp_loss(theirs, torch.tensor(x), torch.tensor(labels), 0.05)
    t_grads = torch.autograd.grad(t_loss, theirs, create_graph=True)
    t_penalty = sum((g * g).sum() for g in t_grads)
    t_penalty_grads = torch.autograd.grad(t_penalty, theirs, retain_graph=True)
    t_hvp = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(t_grads, vectors)), theirs)

    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-13)
    for ours_, theirs_ in [*zip(grads, t_grads), *zip(penalty_grads, t_penalty_grads), *zip(hvp, t_hvp)]:
        np.testing.assert_allclose(ours_.data, theirs_.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_hessian_of_a_small_function_matches_torchs(rng):
    a = rng.standard_normal((3, 3))

    def ours(x):
        return (x.softmax(-1) * (x @ tg.tensor(a))).sum() + (x**4).sum()

    def theirs(x):
        return (x.softmax(-1) * (x @ torch.tensor(a))).sum() + (x**4).sum()

    x = rng.standard_normal(3)
    with torch_warnings_ignored():
        expected = torch.autograd.functional.hessian(theirs, torch.tensor(x)).numpy()
    np.testing.assert_allclose(func.hessian(ours)(tg.tensor(x)).data, expected, rtol=1e-12)


def test_gradient_penalty_and_maml_gradients_match_torch(rng):
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    ours_w, theirs_w = leaf(w), torch_leaf(w)
    for lib, weight, to in ((tg, ours_w, tg.tensor), (torch, theirs_w, torch.tensor)):
        inputs = to(x).requires_grad_()
        (grad_x,) = lib.autograd.grad((inputs @ weight).tanh().sum(), [inputs], create_graph=True)
        norms = (grad_x * grad_x).sum(1) ** 0.5
        ((norms - 1.0) ** 2).mean().backward()
    np.testing.assert_allclose(ours_w.grad.data, theirs_w.grad.numpy(), rtol=1e-12)

    support, query = rng.standard_normal((4, 4)), rng.standard_normal((3, 4))
    ours_w, theirs_w = leaf(w.T), torch_leaf(w.T)
    for lib, weight, to in ((tg, ours_w, tg.tensor), (torch, theirs_w, torch.tensor)):
        inner = ((to(support) @ weight).tanh() ** 2).mean()
        (grad_w,) = lib.autograd.grad(inner, [weight], create_graph=True)
        (to(query) @ (weight - 0.3 * grad_w)).tanh().sum().backward()
    np.testing.assert_allclose(ours_w.grad.data, theirs_w.grad.numpy(), rtol=1e-12)


def make_sort_function(lib):
    """The same custom Function (sorted values, the permutation marked non-differentiable) in either library."""
    base = tg.autograd.Function if lib is tg else torch.autograd.Function

    class Sort(base):
        @staticmethod
        def forward(ctx, x, scale):
            order = np.argsort(x.detach().numpy(), kind="stable")
            order = tg.tensor(order) if lib is tg else torch.tensor(order)
            ctx.mark_non_differentiable(order)
            ctx.save_for_backward(x, order)
            ctx.scale = scale
            return x[order] * scale, order

        @staticmethod
        def backward(ctx, grad_values, grad_order):
            x, order = ctx.saved_tensors
            ctx.seen = (tuple(ctx.needs_input_grad), np.array(grad_order.detach().numpy()))
            flat = grad_values * ctx.scale * x[order]  # depends on x, so it differentiates twice
            if lib is tg:
                return tg.index_add(flat, order, flat.shape), None
            return torch.zeros_like(x).index_add(0, order, flat), None

    return Sort


def test_a_custom_function_behaves_as_torchs(rng):
    values = rng.standard_normal(5)
    weights = rng.standard_normal(5)
    ours_x, theirs_x = leaf(values), torch_leaf(values)
    results = {}
    for lib, x, to in ((tg, ours_x, tg.tensor), (torch, theirs_x, torch.tensor)):
        sort = make_sort_function(lib)
        sorted_values, order = sort.apply(x, 2.0)
        assert not order.requires_grad and sorted_values.requires_grad
        (first,) = lib.autograd.grad((sorted_values * to(weights)).sum(), [x], create_graph=True)
        (second,) = lib.autograd.grad((first * first).sum(), [x])
        node = sorted_values.grad_fn
        results[lib.__name__] = (sorted_values, order, first, second, node)
    ours, theirs = results["tensorgrad"], results["torch"]
    for a, b in zip(ours[:4], theirs[:4]):
        np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(), rtol=1e-13)
    ours_seen, theirs_seen = ours[4].ctx.seen, theirs[4].seen
    assert ours_seen[0] == theirs_seen[0] == (True, False)
    np.testing.assert_array_equal(ours_seen[1], theirs_seen[1])  # zeros for the non-differentiable output


def test_hooks_behave_as_torchs(rng):
    values = rng.standard_normal(3)
    grads = {}
    for lib, x in ((tg, leaf(values)), (torch, torch_leaf(values))):
        calls = []
        x.register_hook(lambda g, calls=calls: calls.append("leaf") or g * 2.0)
        y = x * x
        y.retain_grad()
        y.register_hook(lambda g, calls=calls: calls.append("first") or g + 1.0)
        removed = y.register_hook(lambda g, calls=calls: calls.append("removed"))
        y.register_hook(lambda g, calls=calls: calls.append("second") or g * 3.0)
        removed.remove()
        with torch_warnings_ignored() if lib is torch else contextlib.nullcontext():
            ((y * y).sum() + (x * 5.0).sum()).backward(create_graph=True)
        (second,) = lib.autograd.grad(x.grad.sum(), [x])
        grads[lib.__name__] = (calls, x.grad, y.grad, second)
    ours, theirs = grads["tensorgrad"], grads["torch"]
    assert ours[0] == theirs[0]
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-13)
