"""README.md's examples of loading a trained MLP and a trained CNN into torch.nn.Sequential give
tensorgrad's logits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

import tensorgrad as tg
from tensorgrad import optim
from tensorgrad.data import load_fashion_mnist
from tensorgrad.models import CNN
from tensorgrad.training import TrainConfig, load_trained_model, train_run

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_cnn_example_loads_a_trained_cnn_into_torch_and_gives_its_logits():
    example = re.search(r"<!-- cnn-torch-example -->\n```python\n(.*?)```", README, re.S).group(1)
    model = CNN(rng=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(3):  # a few steps: running statistics and weights away from their initial values
        optimizer.zero_grad()
        model.loss(rng.random((16, 784), dtype=np.float32), rng.integers(0, 10, 16), l2=0.0).backward()
        optimizer.step()
    model.eval()
    images = rng.random((5, 784), dtype=np.float32)
    scope = {"torch": torch, "state": model.state_dict(), "images": images}
    exec(compile(example, "README CNN example", "exec"), scope)
    expected = model(tg.tensor(images)).data
    assert np.abs(model[2].running_mean.data).max() > 0  # the statistics moved, and they carried over
    np.testing.assert_allclose(scope["logits"].detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_readme_mlp_example_loads_a_trained_run_into_torch_and_gives_its_logits(tmp_path):
    example = re.search(r"<!-- mlp-torch-example -->\n```python\n(.*?)```", README, re.S).group(1)
    assert "runs/<run>/best.npz" in example
    config = TrainConfig(max_train_examples=1000, val_size=500, batch_size=100, epochs=1, download=False)
    run = tmp_path / "run"
    outcome = train_run(config, run, dataset=load_fashion_mnist(download=False), log=lambda line: None,
                        progress=False)  # fmt: skip
    assert outcome.exit_code == 0
    images = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    scope = {"images": images}
    example = example.replace("runs/<run>/best.npz", str(run / "best.npz"))
    exec(compile(example, "README MLP example", "exec"), scope)
    model, *_ = load_trained_model(run)
    model.eval()
    assert model.standardize and model.input_gamma == 0.5  # the defaults went through the example's steps
    np.testing.assert_allclose(scope["logits"].detach().numpy(), model(images).data, rtol=1e-5, atol=1e-5)
