"""Fixtures shared by the engine tests: a seeded generator, warnings as errors, and a clean grad mode."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tensorgrad.grad_mode import _GradMode


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed, so every test sees the same numbers on every run."""
    return np.random.default_rng(20240611)


@pytest.fixture(autouse=True)
def _strict_numerics():
    """Any NumPy warning (overflow, divide by zero, invalid value) fails the test that caused it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(autouse=True)
def _grad_mode_is_restored():
    """Each test starts with recording on, and a test that leaves it off cannot leak into the next one."""
    assert _GradMode.enabled, "a previous test left gradient recording switched off"
    yield
    _GradMode.enabled = True
