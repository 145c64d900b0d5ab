"""Shared pieces of the training tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tensorgrad.training import load_checkpoint

#: flags for a run that takes a few seconds: 2,000 training and 1,000 validation examples
SMALL_FLAGS = [
    "--max-train-examples",
    "2000",
    "--val-size",
    "1000",
    "--batch-size",
    "100",
    "--no-download",
    "--no-progress",
]
#: optimizer steps per epoch with SMALL_FLAGS
SMALL_STEPS_PER_EPOCH = 20


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without(row: dict, *keys: str) -> dict:
    return {key: value for key, value in row.items() if key not in keys}


def assert_same_checkpoint(path_a: Path, path_b: Path) -> None:
    """Every array and every saved state of two checkpoints is identical (timings aside)."""
    a, b = load_checkpoint(path_a), load_checkpoint(path_b)
    assert a.epoch == b.epoch
    assert a.config == b.config
    assert a.rng_states == b.rng_states
    assert a.best_metric == b.best_metric
    for name in ("model_state", "optimizer_state", "best_model_state", "ema_state"):
        state_a, state_b = getattr(a, name) or {}, getattr(b, name) or {}
        assert state_a.keys() == state_b.keys(), name
        for key in state_a:
            assert np.array_equal(state_a[key], state_b[key]), f"{name}[{key}] differs"
    progress_a, progress_b = dict(a.progress), dict(b.progress)
    for progress in (progress_a, progress_b):
        progress.pop("wall_seconds")
        progress.pop("seconds")
        progress["history"] = [without(row, "seconds") for row in progress["history"]]
    assert progress_a == progress_b


def copy_run(run_dir: Path, destination: Path) -> Path:
    """A copy of a run folder, to damage or lock without touching the original."""
    shutil.copytree(run_dir, destination)
    return destination


def can_create_in(directory: Path) -> bool:
    probe = directory / ".probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def read_only(directory: Path):
    """Make `directory` refuse new files for the block, even for root (chmod does not stop root; chattr +i does)."""
    os.chmod(directory, 0o555)
    immutable = False
    try:
        if can_create_in(directory):
            subprocess.run(["chattr", "+i", str(directory)], check=True)
            immutable = True
        assert not can_create_in(directory), f"cannot make {directory} read-only on this machine"
        yield directory
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        os.chmod(directory, 0o755)


def folder_snapshot(directory: Path) -> dict[str, bytes]:
    """Every file of a folder and its content, to check that nothing changed."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}
