"""Fixtures for the training tests: the real Fashion-MNIST (loaded once), small configs, one finished run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tensorgrad.cli import train as train_cli
from tensorgrad.data import load_fashion_mnist
from tensorgrad.training import TrainConfig

from .helpers import SMALL_FLAGS


@pytest.fixture(scope="session")
def fashion():
    """The real data set (installed on the test machines), loaded once for the session."""
    return load_fashion_mnist(download=False)


@pytest.fixture
def small_config():
    """`small_config(**changes)`: a `TrainConfig` that trains in well under a second per epoch."""

    def make(**changes) -> TrainConfig:
        settings = {
            "max_train_examples": 2000,
            "val_size": 1000,
            "batch_size": 100,
            "epochs": 3,
            "download": False,
        }
        settings.update(changes)
        return TrainConfig(**settings)

    return make


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A run folder written by `tensorgrad-train` on a small subset (2 epochs, with an L2 term)."""
    run_dir = tmp_path_factory.mktemp("runs") / "small"
    code = train_cli.main(
        [*SMALL_FLAGS, "--epochs", "2", "--seed", "5", "--l2", "1e-4", "--out", str(run_dir)]
    )
    assert code == 0
    return run_dir
