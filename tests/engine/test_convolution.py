"""conv2d against torch.nn.functional.conv2d, finite differences (first and second order), and its errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad.ops import OPS
from tensorgrad.ops.convolution import conv_geometry

from .helpers import assert_gradcheck, normal

# (input shape, weight shape, stride, padding, dilation, groups): odd sizes, strides, padding, dilation,
# groups, a kernel larger than the stride, non-square kernels and strides, 'same' and 'valid'
CASES = [
    ((2, 2, 5, 4), (3, 2, 3, 3), 1, 1, 1, 1),
    ((2, 2, 7, 6), (3, 2, 3, 2), 2, 0, 1, 1),
    ((1, 4, 6, 5), (4, 2, 3, 3), (2, 1), (1, 2), 1, 2),
    ((1, 2, 7, 6), (2, 2, 3, 3), 1, 2, 2, 1),
    ((1, 3, 6, 5), (3, 1, 2, 2), 3, 1, (2, 1), 3),
    ((2, 1, 5, 5), (2, 1, 4, 4), 1, 0, 1, 1),
    ((1, 2, 6, 5), (2, 2, 2, 3), 1, "same", 1, 1),
    ((1, 2, 5, 5), (2, 2, 3, 3), 1, "valid", 1, 1),
    # stride 1: the input gradient is a convolution of the gradient (groups too), unless the padding is
    # beyond the kernel's reach
    ((2, 4, 5, 6), (6, 2, 3, 3), 1, 1, (1, 2), 2),
    ((1, 2, 4, 4), (2, 2, 3, 3), 1, 3, 1, 1),
]
IDS = [f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}-g{c[5]}" for c in CASES]


def torch_conv(x, w, b, stride, padding, dilation, groups):
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    with warnings.catch_warnings():  # torch notes that an even kernel with padding='same' pads a copy
        warnings.simplefilter("ignore", UserWarning)
        out = torch.nn.functional.conv2d(
            *tensors, stride=stride, padding=padding, dilation=dilation, groups=groups
        )
    return out, tensors


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation", "groups"), CASES, ids=IDS)
def test_conv2d_values_and_gradients_match_torch(x_shape, w_shape, stride, padding, dilation, groups, rng):
    x, w, b = normal(rng, x_shape), normal(rng, w_shape), normal(rng, (w_shape[0],))
    out = F.conv2d(x, w, b, stride, padding, dilation, groups)
    expected, (xt, wt, bt) = torch_conv(x.data, w.data, b.data, stride, padding, dilation, groups)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    expected.backward(torch.tensor(grad))
    for mine, theirs in ((x, xt), (w, wt), (b, bt)):
        np.testing.assert_allclose(mine.grad.data, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation", "groups"), CASES, ids=IDS)
def test_conv2d_gradients_pass_gradcheck(x_shape, w_shape, stride, padding, dilation, groups, rng):
    x, w, b = normal(rng, x_shape), normal(rng, w_shape), normal(rng, (w_shape[0],))
    assert_gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), x, w, b)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding", "dilation", "groups"),
    [((1, 2, 4, 3), (2, 2, 2, 2), 1, 1, 1, 1), ((1, 4, 5, 5), (2, 2, 3, 2), 2, (1, 0), (1, 2), 2)],
)
def test_conv2d_second_derivatives_pass_gradgradcheck(
    x_shape, w_shape, stride, padding, dilation, groups, rng
):
    x, w, b = normal(rng, x_shape), normal(rng, w_shape), normal(rng, (w_shape[0],))
    assert tg.gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), (x, w, b))


def test_conv2d_third_derivative_of_a_cubic_in_the_weight_passes_gradcheck(rng):
    # conv2d(x, w) is bilinear, so d3/dw3 of sum(conv2d(x, w)**3) exercises every op of the family
    x, w = normal(rng, (1, 2, 4, 4)), normal(rng, (2, 2, 2, 2))

    def second_derivative(w):
        with tg.enable_grad():  # gradcheck's finite differences run under no_grad
            (first,) = tg.autograd.grad([(F.conv2d(x, w, padding=1) ** 3).sum()], [w], create_graph=True)
            (second,) = tg.autograd.grad([(first * first).sum()], [w], create_graph=True)
        return second

    assert_gradcheck(second_derivative, w)


def test_conv2d_input_and_weight_gradient_ops_are_adjoint_to_conv2d(rng):
    geometry = conv_geometry((3, 2, 3, 3), 2, 1, 1, 1)
    x, w = normal(rng, (2, 2, 7, 6)), normal(rng, (3, 2, 3, 3))
    g = normal(rng, F.conv2d(x, w, stride=2, padding=1).shape)
    grad_x = tg.autograd.apply(OPS["conv2d_input"](geometry, x.shape), g, w)
    grad_w = tg.autograd.apply(OPS["conv2d_weight"](geometry, w.shape), x, g)
    inner = float((F.conv2d(x, w, stride=2, padding=1) * g).sum().item())
    assert float((grad_x * x).sum().item()) == pytest.approx(inner, rel=1e-12)
    assert float((grad_w * w).sum().item()) == pytest.approx(inner, rel=1e-12)
    assert_gradcheck(lambda g, w: tg.autograd.apply(OPS["conv2d_input"](geometry, x.shape), g, w), g, w)
    assert_gradcheck(lambda x, g: tg.autograd.apply(OPS["conv2d_weight"](geometry, w.shape), x, g), x, g)


def test_conv2d_takes_an_unbatched_input_as_torch_does(rng):
    x, w = normal(rng, (2, 5, 5)), normal(rng, (3, 2, 3, 3))
    out = F.conv2d(x, w, padding=1)
    assert out.shape == (3, 5, 5)
    expected = torch.nn.functional.conv2d(torch.tensor(x.data), torch.tensor(w.data), padding=1)
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-12)
    assert_gradcheck(lambda x, w: F.conv2d(x, w, padding=1), x, w)


def test_conv2d_keeps_float32_float32_and_matches_torch(rng):
    x = tg.tensor(rng.standard_normal((4, 3, 9, 9)).astype(np.float32), requires_grad=True)
    w = tg.tensor(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == np.float32
    xt, wt = torch.tensor(x.data, requires_grad=True), torch.tensor(w.data, requires_grad=True)
    torch.nn.functional.conv2d(xt, wt, padding=1).sum().backward()
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_a_convolution_output_stays_channels_last_in_memory_and_flattens_in_torch_order(rng):
    x, w = normal(rng, (2, 3, 4, 4)), normal(rng, (5, 3, 3, 3))
    out = F.conv2d(x, w, padding=1)
    assert out.data.transpose(0, 2, 3, 1).flags.c_contiguous
    expected = torch.nn.functional.conv2d(torch.tensor(x.data), torch.tensor(w.data), padding=1)
    np.testing.assert_allclose(out.flatten(1).data, expected.flatten(1).numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "error", "message"),
    [
        ((1, 3, 5, 5), (4, 2, 3, 3), {}, ValueError, "expects an input with 2 channels"),
        ((1, 4, 5, 5), (3, 2, 3, 3), {"groups": 2}, ValueError, "not divisible by groups=2"),
        ((1, 2, 5, 5), (4, 2, 3), {}, ValueError, "weight must be"),
        ((5, 5), (4, 1, 3, 3), {}, ValueError, "expected a"),
        ((1, 2, 2, 2), (4, 2, 3, 3), {}, ValueError, "kernel spans"),
        ((1, 2, 5, 5), (4, 2, 3, 3), {"padding": "same", "stride": 2}, ValueError, "strided"),
        ((1, 2, 5, 5), (4, 2, 3, 3), {"padding": "full"}, ValueError, "padding must be"),
        ((1, 2, 5, 5), (4, 2, 3, 3), {"stride": 0}, ValueError, "positive"),
        ((1, 2, 5, 5), (4, 2, 3, 3), {"stride": 1.5}, TypeError, "stride must be an int"),
    ],
)
def test_conv2d_rejects_bad_arguments_with_a_message_naming_them(
    x_shape, w_shape, kwargs, error, message, rng
):
    with pytest.raises(error, match=message):
        F.conv2d(normal(rng, x_shape), normal(rng, w_shape), **kwargs)


def test_conv2d_rejects_a_bias_of_the_wrong_size_and_mixed_dtypes(rng):
    x, w = normal(rng, (1, 2, 5, 5)), normal(rng, (4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(x, w, normal(rng, (3,)))
    with pytest.raises(TypeError, match="one dtype"):
        F.conv2d(x, w.to(np.float32))
