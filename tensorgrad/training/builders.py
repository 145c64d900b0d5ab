"""Build a run's model, optimizer and random generators from its `TrainConfig`."""

from __future__ import annotations

import numpy as np

from .. import optim
from ..models.mlp import MLP
from .config import TrainConfig

#: the independent random streams of a run, all derived from its seed
STREAMS = ("split", "loader", "model")


def seed_generators(seed: int) -> dict[str, np.random.Generator]:
    """One generator per stream of `STREAMS`, spawned from `seed` so that they never overlap.

    "split" draws the validation split, "loader" the order of the batches, "model" the initial weights and
    then the dropout masks.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def build_model(config: TrainConfig, rng: np.random.Generator | int | None = None):
    """The MLP of `config` (sizes, activation, keep_prob), initialized from `rng`."""
    return MLP(config.sizes, activation=config.activation, keep_prob=config.keep_prob, rng=rng)


def build_optimizer(config: TrainConfig, params) -> optim.Optimizer:
    """The optimizer of `config`: "sgd" (plain), "momentum" (the paper's averaged momentum) or "adam"."""
    params = list(params)
    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.lr)
    if config.optimizer == "momentum":
        return optim.Momentum(params, lr=config.lr, beta=config.momentum)
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr)
    raise ValueError(f"unknown optimizer {config.optimizer!r}")
