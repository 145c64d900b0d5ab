"""For the ONNX export tests: running a file with onnxruntime, and a small model trained on real data.

The tests use the real `onnx` checker and onnxruntime (CPU), on purpose: without them they fail, not skip.
"""

from __future__ import annotations

import sys

import onnx
import onnxruntime
import pytest

from tensorgrad.data import load_fashion_mnist
from tensorgrad.training import TrainConfig, train_run


def run_onnx(path, *inputs) -> list:
    """The outputs of the ONNX model at `path` on `inputs` (fed to its inputs in order), with onnxruntime."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))


def declared_shapes(path) -> list[tuple]:
    """The shape each output of the ONNX model at `path` declares: ints, and names for symbolic axes."""
    outputs = onnx.load(str(path)).graph.output
    return [tuple(d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim) for o in outputs]


def fits(declared: tuple, shape: tuple) -> bool:
    """True if an actual `shape` matches a `declared` one (a symbolic axis matches any size)."""
    return len(declared) == len(shape) and all(isinstance(d, str) or d == n for d, n in zip(declared, shape))


@pytest.fixture(scope="session")
def fashion():
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, fashion):
    """A run folder of the MLP after 300 steps (3 epochs of 4,000 examples, batch 40) on real Fashion-MNIST."""
    run_dir = tmp_path_factory.mktemp("onnx") / "run"
    config = TrainConfig(
        max_train_examples=4000, val_size=1000, batch_size=40, epochs=3, seed=7, download=False
    )
    return train_quietly(config, run_dir, fashion)


def train_quietly(config: TrainConfig, run_dir, fashion):
    """`train_run` into `run_dir`, without log lines or pictures; returns `run_dir`."""
    with pytest.MonkeyPatch.context() as patch:  # no pictures: drawing them takes longer than the training
        for library in ("matplotlib", "graphviz"):
            patch.setitem(sys.modules, library, None)
        outcome = train_run(config, run_dir, dataset=fashion, log=lambda line: None, progress=False)
    assert outcome.exit_code == 0
    return run_dir
