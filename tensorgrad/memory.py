"""Keep the memory NumPy frees for its next allocation instead of handing it back to the system (glibc).

A training step allocates the same large temporaries every time (a convolution's im2col matrix, an
activation, its gradient). glibc serves each block above its mmap threshold with a fresh mapping and
unmaps it on free, and trims the heap's top when it frees, so each step touches new pages: the kernel
zero-fills every 4 KB page on first touch, which made a third of a CNN step's time system time. Raising
both thresholds keeps those blocks in the heap, reused step after step. The cost is that the process keeps
its peak footprint until it exits, which is what a training run needs anyway.
"""

from __future__ import annotations

import ctypes
import sys

#: mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX): larger blocks are mapped
MMAP_THRESHOLD = 32 * 1024 * 1024
#: free memory at the heap's top beyond this is given back
TRIM_THRESHOLD = 1 << 30

_kept = False


def keep_freed_memory() -> bool:
    """Make glibc reuse freed blocks of up to 32 MiB rather than unmap them (see the module's docstring).

    Returns True if the allocator was tuned (now or by an earlier call), False where there is nothing to
    tune (not Linux, or a C library without glibc's `mallopt`). Affects the whole process; call it once,
    early, in a program that trains (the `tensorgrad` commands and the benchmarks do).
    """
    global _kept
    if _kept:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _kept = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _kept
