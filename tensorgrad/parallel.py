"""Parallelism inside an op: a kernel run on slices of its batch axis, on threads of tensorgrad's own.

Convolution, pooling and batch norm run slice by slice of the batch (`over_batch`), each slice small
enough to stay in a core's cache between the passes of a kernel (an im2col copy, its product, a strided
add), which alone makes them faster; element-wise work (Adam's update) is cut into one piece per thread
(`elementwise`). With `set_num_threads(n)`, n > 1, the slices also run on n threads
at once: NumPy lets go of the GIL inside its loops and BLAS calls, so the element-wise passes, which NumPy
runs on one core, use all n. NumPy's BLAS is then held to one thread (through threadpoolctl): its idle
threads spin for about a tenth of a second after each product, and on a two-core machine such a spinning
thread takes half of the core that one of ours needs. The products outside these kernels (a Linear
layer's) then run on one thread: worth it for a convnet, not for an MLP, which is why it is a setting,
off by default (`tensorgrad-train --model cnn` turns it on).

The slices depend on the batch size and the bytes of an item only, never on the number of threads, so
the results are the same numbers with any `set_num_threads`.
"""

from __future__ import annotations

import contextlib
import os
import threading

from .optional import require

#: bytes of the arrays one slice works on: small enough for the caches (a CNN step took longest with
#: 0.5 MiB slices, then 4, then 1; 2 MiB was the fastest at batch 32 and 128)
SLICE_BYTES = 1 << 21
#: work below this many bytes in all is one slice (the thread hand-over costs tens of microseconds)
SERIAL_BYTES = 1 << 19

_local = threading.local()  # `inside`: this thread is running slices (a kernel in a kernel runs serially)
_lock = threading.Lock()
_pool = None
_threads = 1
_blas_limit = None  # threadpoolctl's limiter that holds BLAS at one thread, while _threads > 1


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """The threads tensorgrad's kernels run their slices on (1 unless `set_num_threads` said otherwise)."""
    return _threads


def set_num_threads(threads: int) -> None:
    """Run convolution, pooling and batch norm on `threads` threads, NumPy's BLAS on one meanwhile (see the
    module's docstring); 1 (the default) runs every slice on the calling thread and gives BLAS back its
    own threads. Needs threadpoolctl for more than one (`pip install tensorgrad[train]`)."""
    global _threads, _pool, _blas_limit
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {threads!r}")
    with _lock:
        if threads > 1 and _blas_limit is None:
            threadpoolctl = require("threadpoolctl", "running tensorgrad's kernels on several threads")
            _blas_limit = threadpoolctl.threadpool_limits(limits=1, user_api="blas")
        elif threads == 1 and _blas_limit is not None:
            _blas_limit.restore_original_limits()
            _blas_limit = None
        if _pool is not None and threads != _threads:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = threads


@contextlib.contextmanager
def num_threads(threads: int):
    """`set_num_threads(threads)` for the body of a with statement, the number before it restored after."""
    previous = _threads
    set_num_threads(threads)
    try:
        yield
    finally:
        set_num_threads(previous)


def slices(n: int, item_bytes: int) -> list:
    """[start, stop) ranges that cut range(n) into slices of about SLICE_BYTES (one, for little work)."""
    if n * item_bytes <= SERIAL_BYTES:
        return [(0, n)]
    size = max(1, min(n, SLICE_BYTES // max(1, item_bytes)))
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def over_batch(kernel, n: int, item_bytes: int) -> list:
    """kernel(start, stop) for each slice of `slices(n, item_bytes)`, on up to `get_num_threads()` threads;
    returns their results in the order of the slices (a sum of them is the same on any number of threads).

    The threads take the slices as they come free; the kernels must write disjoint parts of their outputs.
    """
    parts = slices(n, item_bytes)
    return _spread(kernel, parts, min(_threads, len(parts)))


def sum_over_batch(kernel, n: int, item_bytes: int):
    """The sum of kernel(start, stop) over the slices of `over_batch`, added in the slices' order."""
    parts = over_batch(kernel, n, item_bytes)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def elementwise(kernel, n: int, item_bytes: int) -> None:
    """kernel(start, stop) on one piece of range(n) per thread (the whole range on one thread, or for
    little work): for element-wise kernels, whose numbers do not depend on where the range is cut."""
    threads = _threads if n * item_bytes > SERIAL_BYTES else 1
    if threads == 1:  # the MLP's setting: one call, nothing else on its hot path
        kernel(0, n)
        return
    _spread(kernel, [(n * i // threads, n * (i + 1) // threads) for i in range(threads)], threads)


def _spread(kernel, parts: list, threads: int) -> list:
    """The kernel on each of `parts`, on `threads` threads that take the next part as they come free (the
    calling thread among them); the results in the order of `parts`."""
    if threads == 1 or getattr(_local, "inside", False):
        return [kernel(start, stop) for start, stop in parts]
    results = [None] * len(parts)
    queue = iter(range(len(parts)))  # next() on it is atomic under the GIL: each part is taken once

    def work():
        _local.inside = True
        try:
            for index in queue:
                results[index] = kernel(*parts[index])
        finally:
            _local.inside = False

    futures = [_executor().submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:  # the other threads are done with the outputs before the caller sees them, or an error
        errors = [future.exception() for future in futures]
    for error in errors:
        if error is not None:
            raise error
    return results


def _executor():
    from concurrent.futures import ThreadPoolExecutor

    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="tensorgrad")
        return _pool
