"""Pooling against torch.nn.functional: values, gradients (ties included), finite differences, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad.ops import OPS, windows
from tensorgrad.ops.pooling import ceil_padding, pool_geometry

from .helpers import assert_gradcheck, distinct, normal

# (input shape, kernel, stride, padding, dilation): overlapping windows, padding, dilation, odd sizes,
# non-square kernels and strides, an unbatched (C, H, W) input
MAX_CASES = [
    ((2, 3, 6, 6), 2, None, 0, 1),
    ((1, 2, 7, 6), 3, 1, 1, 1),
    ((1, 2, 9, 7), (3, 2), (2, 1), (1, 1), 1),
    ((1, 2, 9, 9), 3, 2, 1, 2),
    ((3, 5, 5), 2, 1, 1, 1),
    # windows that tile the input (another kernel than 2x2 and one of a single row)
    ((2, 3, 6, 9), 3, None, 0, 1),
    ((2, 2, 4, 6), (2, 1), None, 0, 1),
]
AVG_CASES = [case[:4] for case in MAX_CASES]


def torch_value_and_grad(function, x: np.ndarray, grad: np.ndarray, *args):
    xt = torch.tensor(x, requires_grad=True)
    out = function(xt, *args)
    out.backward(torch.tensor(grad))
    return out.detach().numpy(), xt.grad.numpy()


def check_against_torch(ours, theirs, x: tg.Tensor, rng, *args) -> None:
    out = ours(x, *args)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    value, expected_grad = torch_value_and_grad(theirs, x.data, grad, *args)
    np.testing.assert_allclose(out.data, value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, expected_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "dilation"), MAX_CASES)
def test_max_pool2d_matches_torch_with_distinct_and_with_tied_values(
    shape, kernel, stride, padding, dilation, rng
):
    args = (kernel, stride, padding, dilation)
    check_against_torch(F.max_pool2d, torch.nn.functional.max_pool2d, normal(rng, shape), rng, *args)
    # values on a coarse grid: many windows hold their maximum twice; torch sends the gradient to the first
    tied = tg.tensor(np.round(rng.standard_normal(shape)), requires_grad=True)
    check_against_torch(F.max_pool2d, torch.nn.functional.max_pool2d, tied, rng, *args)


def test_max_pool2d_gives_a_tied_window_gradient_to_its_first_maximum_only():
    x = tg.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_max_pool2d_with_overlapping_windows_adds_the_gradients_of_an_element_picked_twice():
    x = tg.tensor(np.array([[[[0.0, 5.0, 1.0, 0.0]]]]), requires_grad=True)
    F.max_pool2d(x, (1, 2), stride=1).sum().backward()  # windows (0, 5), (5, 1), (1, 0)
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 2.0, 1.0, 0.0]]]])


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "dilation"), MAX_CASES)
def test_max_pool2d_passes_gradcheck_and_gradgradcheck(shape, kernel, stride, padding, dilation, rng):
    x = distinct(rng, shape)  # no ties: finite differences need a unique maximum in each window
    assert_gradcheck(lambda x: F.max_pool2d(x, kernel, stride, padding, dilation), x)
    assert tg.gradgradcheck(lambda x: F.max_pool2d(x, kernel, stride, padding, dilation) ** 2, (x,))


def test_max_pool2d_return_indices_match_torch(rng):
    x = np.round(rng.standard_normal((2, 3, 7, 6)))
    out, indices = F.max_pool2d(tg.tensor(x), 3, 2, 1, return_indices=True)
    expected, expected_indices = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(out.data, expected.numpy())
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())


def test_max_pool2d_propagates_nan_and_pads_with_minus_infinity():
    x = np.array([[[[-5.0, np.nan], [-7.0, -6.0]]]])
    out = F.max_pool2d(tg.tensor(x), 2, stride=1, padding=1)
    expected = torch.nn.functional.max_pool2d(torch.tensor(x), 2, stride=1, padding=1)
    np.testing.assert_array_equal(out.data, expected.numpy())


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("kernel", [2, 3, (1, 2)])
def test_tiled_windows_choose_as_the_per_offset_masks_do(kernel, channels_last, rng):
    # ties on a coarse grid, a NaN window (no element is its maximum) and a window of -inf
    geometry = pool_geometry("max_pool2d", kernel, None, 0)
    shape = (3, 4, 6, 12)
    x = np.round(rng.standard_normal(shape)).astype(np.float32)
    x[0, 0, 0, 0], x[1, 2, :3, :3] = np.nan, -np.inf
    if channels_last:  # the memory order of a convolution's output
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    out = windows.max_pool2d(x, geometry)
    choice = windows.max_pool2d_choice(x, out, geometry)
    assert isinstance(choice, windows.TiledMask)
    masks = windows.max_pool2d_masks(x, out, geometry)
    grad = rng.standard_normal(out.shape).astype(np.float32)
    scattered = windows.window_scatter(grad, choice, geometry, x.shape)
    np.testing.assert_array_equal(scattered, windows.window_scatter(grad, masks, geometry, x.shape))
    assert scattered.transpose(0, 2, 3, 1).flags.c_contiguous == channels_last
    y = np.nan_to_num(x, nan=0.0, neginf=0.0)
    np.testing.assert_array_equal(
        windows.window_gather(y, choice, geometry), windows.window_gather(y, masks, geometry)
    )


def test_max_pool2d_of_a_channels_last_input_matches_torch(rng):
    data = np.round(rng.standard_normal((2, 6, 6, 3)))  # ties in many windows
    x = tg.tensor(np.ascontiguousarray(data).transpose(0, 3, 1, 2), requires_grad=True)
    check_against_torch(F.max_pool2d, torch.nn.functional.max_pool2d, x, rng, 2)


@pytest.mark.parametrize(("kernel", "stride", "padding", "size"), [(3, 2, 1, 5), (2, None, 0, 6)])
def test_window_scatter_and_gather_are_adjoint_and_differentiable(kernel, stride, padding, size, rng):
    geometry = pool_geometry("max_pool2d", kernel, stride, padding)  # per-offset masks, and a TiledMask
    x = distinct(rng, (1, 2, size, size), requires_grad=False)
    out = windows.max_pool2d(x.data, geometry)
    masks = windows.max_pool2d_choice(x.data, out, geometry)
    g, y = normal(rng, out.shape), normal(rng, x.shape)
    scattered = tg.autograd.apply(OPS["window_scatter"](masks, geometry, x.shape), g)
    gathered = tg.autograd.apply(OPS["window_gather"](masks, geometry), y)
    assert float((scattered * y).sum().item()) == pytest.approx(float((gathered * g).sum().item()), rel=1e-12)
    assert_gradcheck(lambda g: tg.autograd.apply(OPS["window_scatter"](masks, geometry, x.shape), g), g)
    assert_gradcheck(lambda y: tg.autograd.apply(OPS["window_gather"](masks, geometry), y), y)


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), AVG_CASES)
def test_avg_pool2d_matches_torch_and_passes_gradcheck_and_gradgradcheck(shape, kernel, stride, padding, rng):
    x = normal(rng, shape)
    check_against_torch(F.avg_pool2d, torch.nn.functional.avg_pool2d, x, rng, kernel, stride, padding)
    assert_gradcheck(lambda x: F.avg_pool2d(x, kernel, stride, padding), x)
    assert tg.gradgradcheck(lambda x: F.avg_pool2d(x, kernel, stride, padding) ** 2, (x,))


# (input shape, kernel, stride, padding): ceil_mode adds a last window that overhangs the input, or (the
# third) would add one that starts in the padding, which PyTorch drops
CEIL_CASES = [
    ((1, 2, 7, 7), 2, 2, 0),
    ((2, 2, 8, 6), 3, 2, 1),
    ((1, 2, 6, 6), 2, 3, 1),
    ((1, 1, 9, 7), (3, 2), (2, 3), (1, 0)),
]


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), CEIL_CASES)
def test_max_pool2d_ceil_mode_matches_torch_and_passes_gradgradcheck(shape, kernel, stride, padding, rng):
    args = (kernel, stride, padding, 1, True)  # positional, in PyTorch's order: dilation, then ceil_mode
    check_against_torch(F.max_pool2d, torch.nn.functional.max_pool2d, normal(rng, shape), rng, *args)
    x = distinct(rng, shape)
    assert_gradcheck(lambda x: F.max_pool2d(x, *args), x)
    assert tg.gradgradcheck(lambda x: F.max_pool2d(x, *args) ** 2, (x,))


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), CEIL_CASES + AVG_CASES[1:3])
@pytest.mark.parametrize(
    ("ceil_mode", "count_include_pad", "divisor_override"), [(True, True, None), (False, False, None),
                                                            (True, False, None), (True, True, 5)]
)  # fmt: skip
def test_avg_pool2d_divisors_match_torch_and_pass_gradgradcheck(
    shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, rng
):
    args = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    check_against_torch(F.avg_pool2d, torch.nn.functional.avg_pool2d, normal(rng, shape), rng, *args)
    x = normal(rng, shape)
    assert_gradcheck(lambda x: F.avg_pool2d(x, *args), x)
    assert tg.gradgradcheck(lambda x: F.avg_pool2d(x, *args) ** 2, (x,))


def test_ceil_mode_padding_is_described_in_full():
    geometry = ceil_padding(pool_geometry("max_pool2d", 2, None, 0), (7, 6))
    assert geometry.padding == ((0, 1), (0, 0))
    assert geometry.describe() == "2x2, stride 2, pad ((0, 1), (0, 0))"
    assert pool_geometry("max_pool2d", 3, 2, 1).describe() == "3x3, stride 2, pad 1"


def test_avg_pool2d_adjoint_op_is_differentiable(rng):
    geometry = pool_geometry("avg_pool2d", 3, 2, 1)
    g = normal(rng, (1, 2, 3, 3))
    assert_gradcheck(lambda g: tg.autograd.apply(OPS["avg_pool2d_adjoint"](geometry, (1, 2, 5, 6)), g), g)


@pytest.mark.parametrize(
    ("shape", "output_size"),
    [
        ((2, 3, 7, 6), (3, 4)),
        ((1, 2, 8, 8), 2),
        ((1, 2, 9, 7), (None, 3)),
        ((2, 5, 5), 1),
        ((1, 1, 5, 3), (7, 2)),
    ],
)
def test_adaptive_avg_pool2d_matches_torch_and_passes_gradcheck(shape, output_size, rng):
    x = normal(rng, shape)
    check_against_torch(F.adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool2d, x, rng, output_size)
    assert_gradcheck(lambda x: F.adaptive_avg_pool2d(x, output_size), x)


def test_pooling_keeps_float32_float32(rng):
    x = tg.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    for out in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 1, 1), F.adaptive_avg_pool2d(x, 4)):
        out.sum().backward()
        assert out.dtype == x.grad.dtype == np.float32


@pytest.mark.parametrize(
    ("function", "args", "message"),
    [
        (F.max_pool2d, (3, 1, 2), "at most half of the kernel size"),
        (F.avg_pool2d, (0,), "must be positive"),
        (F.max_pool2d, (9,), "too small"),
        (F.adaptive_avg_pool2d, ((2, 0),), "positive ints"),
        (F.avg_pool2d, (2, 2, 0, False, True, 0), "divisor_override must be a positive int"),
    ],
)
def test_pooling_rejects_bad_arguments_with_a_message_naming_them(function, args, message, rng):
    with pytest.raises(ValueError, match=message):
        function(normal(rng, (1, 2, 6, 6)), *args)


@pytest.mark.parametrize("function", [F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d])
def test_pooling_needs_an_input_with_channel_and_spatial_axes(function, rng):
    with pytest.raises(ValueError, match=r"expected a \(N, C, H, W\) or \(C, H, W\) input"):
        function(normal(rng, (6, 6)), 2)
