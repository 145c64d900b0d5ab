"""tensorgrad.parallel: kernels run slice by slice of the batch, on one thread or several, give the same
numbers as one pass over the whole batch (and as torch); the BLAS setting it makes and takes back."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import threadpoolctl
import torch

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import parallel

from .test_convolution import CASES, IDS, torch_conv


@pytest.fixture
def one_image_slices(monkeypatch):
    """Every image of a batch its own slice, however small the work."""
    monkeypatch.setattr(parallel, "SLICE_BYTES", 1)
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 0)


@pytest.fixture
def threads():
    """Set the number of threads for the test; back to 1 afterwards."""
    yield parallel.set_num_threads
    parallel.set_num_threads(1)


def blas_threads() -> set:
    return {info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"}


def test_slices_cut_the_batch_by_bytes_and_keep_small_work_whole(monkeypatch):
    monkeypatch.setattr(parallel, "SLICE_BYTES", 1000)
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 500)
    assert parallel.slices(10, 300) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert parallel.slices(10, 5000) == [(i, i + 1) for i in range(10)]  # an item larger than a slice
    assert parallel.slices(10, 50) == [(0, 10)]  # 500 bytes in all: one slice


def meeting_kernel(count: int, names: set):
    """A kernel whose threads each wait at their first slice until `count` threads are there (so that they
    must run at the same time), recording the threads' names; returns its slice."""
    barrier, lock = threading.Barrier(count, timeout=10), threading.Lock()

    def kernel(start, stop):
        name = threading.current_thread().name
        with lock:
            first = name not in names
            names.add(name)
        if first:
            barrier.wait()
        return (start, stop)

    return kernel


@pytest.mark.parametrize("count", [1, 2, 3])
def test_over_batch_returns_results_in_slice_order_on_any_number_of_threads(count, one_image_slices, threads):
    threads(count)
    names = set()
    assert parallel.over_batch(meeting_kernel(count, names), 7, 8) == [(i, i + 1) for i in range(7)]
    assert len(names) == count


def test_a_kernel_inside_a_kernel_runs_its_slices_on_its_own_thread(one_image_slices, threads):
    threads(2)

    def inner(start, stop):
        return threading.current_thread().name

    def outer(start, stop):
        return (threading.current_thread().name, set(parallel.over_batch(inner, 4, 8)))

    for name, inner_names in parallel.over_batch(outer, 4, 8):
        assert inner_names == {name}


def test_an_error_in_a_slice_on_another_thread_reaches_the_caller(one_image_slices, threads):
    threads(2)

    def kernel(start, stop):
        if start == 3:
            raise ValueError("slice 3 failed")

    with pytest.raises(ValueError, match="slice 3 failed"):
        parallel.over_batch(kernel, 4, 8)


def test_set_num_threads_holds_blas_to_one_thread_and_gives_its_threads_back(threads):
    before = blas_threads()
    threads(2)
    assert parallel.get_num_threads() == 2
    assert blas_threads() == {1}
    threads(3)
    assert blas_threads() == {1}
    threads(1)
    assert parallel.get_num_threads() == 1
    assert blas_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
        parallel.set_num_threads(bad)
    assert parallel.get_num_threads() == 1


def conv_values_and_grads(x, w, b, args):
    x, w, b = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(x, w, b, *args)
    out.backward(np.cos(np.arange(out.size)).reshape(out.shape))
    return [out.data, x.grad.data, w.grad.data, b.grad.data]


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "dilation", "groups"), CASES, ids=IDS)
def test_conv2d_in_one_image_slices_on_two_threads_matches_one_pass_and_torch(
    x_shape, w_shape, stride, padding, dilation, groups, rng, one_image_slices, threads
):
    x_shape = (3, *x_shape[1:])  # three images: three slices
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    args = (stride, padding, dilation, groups)
    serial = conv_values_and_grads(x, w, b, args)
    threads(2)
    parallel_results = conv_values_and_grads(x, w, b, args)
    for mine, theirs in zip(parallel_results, serial):
        np.testing.assert_array_equal(mine, theirs)  # the same slices: the same numbers
    expected, tensors = torch_conv(x, w, b, *args)
    expected.backward(torch.tensor(np.cos(np.arange(expected.numel())).reshape(expected.shape)))
    references = [expected.detach().numpy()] + [t.grad.numpy() for t in tensors]
    for mine, theirs in zip(parallel_results, references):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, None, 0), (3, 2, 1)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_max_pool2d_in_one_image_slices_on_two_threads_matches_torch(
    kernel, stride, padding, channels_last, rng, one_image_slices, threads
):
    data = np.round(rng.standard_normal((4, 6, 6, 3)))  # ties in many windows
    data = data.transpose(0, 3, 1, 2) if channels_last else np.ascontiguousarray(data.transpose(0, 3, 1, 2))
    threads(2)
    x = tg.tensor(data, requires_grad=True)
    out = F.max_pool2d(x, kernel, stride, padding)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    xt = torch.tensor(np.ascontiguousarray(data), requires_grad=True)
    expected = torch.nn.functional.max_pool2d(xt, kernel, stride, padding)
    expected.backward(torch.tensor(grad))
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    # overlapping windows add an element's gradients in another order than torch
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (5, 4), (4, 3, 7)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_in_one_image_slices_on_two_threads_matches_torch(
    shape, affine, rng, one_image_slices, threads
):
    data = rng.standard_normal(shape) * 3 + 1
    if len(shape) == 4:  # the memory order of a convolution's output
        data = np.ascontiguousarray(data.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    weight, bias = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    threads(2)
    x = tg.tensor(data, requires_grad=True)
    params = [tg.tensor(weight, requires_grad=True), tg.tensor(bias, requires_grad=True)] if affine else []
    running = [np.zeros(shape[1]), np.ones(shape[1])]
    out = F.batch_norm(x, *running, *(params or [None, None]), training=True)
    grad = rng.standard_normal(shape)
    out.backward(grad)
    xt = torch.tensor(np.ascontiguousarray(data), requires_grad=True)
    params_t = (
        [torch.tensor(weight, requires_grad=True), torch.tensor(bias, requires_grad=True)] if affine else []
    )
    running_t = [torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)]
    expected = torch.nn.functional.batch_norm(xt, *running_t, *(params_t or [None, None]), training=True)
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in zip([x, *params], [xt, *params_t]):
        np.testing.assert_allclose(mine.grad.data, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(running, running_t):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_elementwise_cuts_the_range_into_one_piece_per_thread_and_keeps_small_work_whole(
    threads, monkeypatch
):
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 100)
    pieces = []
    threads(3)
    parallel.elementwise(lambda start, stop: pieces.append((start, stop)), 10, 20)
    assert sorted(pieces) == [(0, 3), (3, 6), (6, 10)]
    pieces.clear()
    parallel.elementwise(lambda start, stop: pieces.append((start, stop)), 10, 10)  # 100 bytes in all
    assert pieces == [(0, 10)]


def test_adam_on_two_threads_takes_the_same_steps_as_on_one(rng, threads, monkeypatch):
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 0)
    start = [rng.standard_normal((30, 7)).astype(np.float32), rng.standard_normal(11).astype(np.float32)]
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in start] for _ in range(3)]
    results = []
    for count in (1, 2):
        threads(count)
        params = [tg.nn.Parameter(p.copy()) for p in start]
        optimizer = tg.optim.Adam(params, lr=0.1, weight_decay=0.01)
        for step in grads:
            optimizer.zero_grad()
            for p, g in zip(params, step):
                p.grad = tg.tensor(g)
            optimizer.step()
        results.append([p.data.copy() for p in params])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    assert not np.array_equal(results[0][0], start[0])
