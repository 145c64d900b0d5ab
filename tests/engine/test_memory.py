"""keep_freed_memory: a large array freed and allocated again reuses its pages instead of faulting anew."""

from __future__ import annotations

import subprocess
import sys

ALLOCATE = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from tensorgrad.memory import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()  # a second call is harmless
def step():  # what a training step does: several large temporaries alive at once, then all freed
    alive = [np.ones(4 * 1024 * 1024, dtype=np.float32) for _ in range(5)]  # 16 MiB each
    del alive
for _ in range(3):  # warm up: the first blocks fault in either way
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", ALLOCATE, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return int(result.stdout)


def test_kept_memory_is_reused_without_page_faults():
    # CI runs on Linux with glibc, where this must work: no skip, a failure says the tuning was lost
    block = 16 * 1024 * 1024 // 4096  # the pages of one temporary
    assert page_faults("default") >= block  # blocks given back and faulted in afresh (8,176 here)
    assert page_faults("keep") < block / 40


def test_keep_freed_memory_reports_whether_it_could_tune(monkeypatch):
    from tensorgrad import memory

    monkeypatch.setattr(memory, "_kept", False)
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.keep_freed_memory() is False
