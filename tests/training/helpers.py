"""Shared pieces of the training tests."""

from __future__ import annotations

import json
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
    for name in ("model_state", "optimizer_state", "best_model_state"):
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
