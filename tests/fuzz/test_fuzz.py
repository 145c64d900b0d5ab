"""A short run of the fuzz harness (`make fuzz` runs a long one), and proof that its limits are enforced.

Each run is a subprocess: the address-space limit it sets must not apply to pytest itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parent / "harness.py"


def run_harness(tmp_path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HARNESS), "--failures", str(tmp_path / "failures"), *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_mutated_file_ends_in_the_result_or_the_documented_error(tmp_path):
    result = run_harness(tmp_path, "--examples", "40", "--seed", "1", "--memory-mb", "768", "--seconds", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    for target in ("idx: 40 inputs", "checkpoint: 40 inputs", "image: 40 inputs"):
        assert target in result.stdout
    assert (
        "IDXError" in result.stdout and "CheckpointError" in result.stdout and "ImageError" in result.stdout
    )
    assert "FAILED" not in result.stdout and not (tmp_path / "failures").exists()


def test_an_input_past_the_memory_limit_is_a_failure(tmp_path):
    result = run_harness(tmp_path, "--target", "selftest-memory", "--examples", "1", "--memory-mb", "512")
    assert result.returncode == 1
    assert "FAILED: ran out of memory: went past the address-space limit" in result.stdout
    assert len(list((tmp_path / "failures").iterdir())) == 1  # the input is kept to reproduce it


def test_an_input_past_the_time_limit_is_a_failure(tmp_path):
    result = run_harness(tmp_path, "--target", "selftest-time", "--examples", "1", "--seconds", "0.2")
    assert result.returncode == 1
    assert "FAILED: took longer than 0.2 s" in result.stdout
