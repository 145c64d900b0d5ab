"""README.md's example of loading a trained CNN into torch.nn.Sequential gives tensorgrad's logits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

import tensorgrad as tg
from tensorgrad import optim
from tensorgrad.models import CNN

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
