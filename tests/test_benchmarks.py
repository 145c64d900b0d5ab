"""The benchmarks run end to end (on a little data) and write the JSON they promise; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_mlp_epoch_benchmark_reports_ratios_for_each_batch_size(tmp_path):
    out = tmp_path / "mlp.json"
    args = ["--batch-sizes", "64", "256", "--epochs", "2", "--examples", "2048", "--data", "synthetic"]
    result = run("mlp_epoch.py", *args, "--no-torch", "--json", str(out))
    assert "tg/numpy" in result.stdout
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"64", "256"}
    for entry in report["results"].values():
        assert len(entry["epoch_seconds"]["tensorgrad"]) == len(entry["epoch_seconds"]["numpy"]) == 2
        low, high = entry["tensorgrad_over_numpy_range"]
        assert 0 < low <= entry["tensorgrad_over_numpy"] <= high
        assert entry["fraction_of_matmul_peak"]["tensorgrad"] > 0
        assert entry["traced_peak_mib"]["tensorgrad"] > 0


def test_op_overhead_benchmark_reports_microseconds_per_op(tmp_path):
    out = tmp_path / "overhead.json"
    result = run("op_overhead.py", "--length", "200", "--repeats", "1", "--json", str(out))
    assert "forward + backward" in result.stdout
    report = json.loads(out.read_text())
    assert report["ops"] == 200
    assert report["microseconds_per_op"]["forward (recorded)"] > 0


def test_hvp_benchmark_reports_the_ratio_of_an_hvp_to_a_gradient(tmp_path):
    out = tmp_path / "hvp.json"
    # without PyTorch (its import alone takes seconds); the benchmark checks its products against torch's
    result = run("hvp.py", "--steps", "2", "--batch-size", "16", "--no-torch", "--json", str(out))
    assert "Hessian-vector product vs one gradient" in result.stdout
    report = json.loads(out.read_text())
    assert report["parameters"] == 784 * 196 + 196 + 196 * 64 + 64 + 64 * 10 + 10
    assert set(report["results"]) == {"tensorgrad"}
    entry = report["results"]["tensorgrad"]
    assert entry["gradient_ms"] > 0 and entry["hvp_ms"] > 0
    low, high = entry["hvp_over_gradient_range"]
    assert 0 < low <= entry["hvp_over_gradient"] <= high


def test_cnn_epoch_benchmark_reports_the_torch_ratio_and_a_step_memory_peak(tmp_path):
    out = tmp_path / "cnn.json"
    args = ["--batch-sizes", "16", "--epochs", "2", "--chunks", "1", "--limit", "0.5", "--examples", "64"]
    result = run("cnn_epoch.py", *args, "--data", "synthetic", "--json", str(out))
    assert "tg/torch" in result.stdout
    report = json.loads(out.read_text())
    assert report["meta"]["threads"] == 2  # each implementation's, tensorgrad's kernels as torch
    entry = report["results"]["16"]
    assert entry["examples_per_epoch"] == 32
    assert len(entry["epoch_seconds"]["tensorgrad"]) == len(entry["epoch_seconds"]["torch"]) == 2
    low, high = entry["tensorgrad_over_torch_range"]
    assert 0 < low <= entry["tensorgrad_over_torch"] <= high
    assert entry["conv_share_of_matmul_peak"]["tensorgrad"] > 0
    assert entry["traced_step_peak_mib"] > 0
