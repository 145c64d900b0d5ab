"""A small model that takes images (N, 1, 28, 28) and keeps buffers updated in train mode, as batch norm does:
what the training layer must handle for any model, without waiting for a convnet."""

from __future__ import annotations

import contextlib

import numpy as np

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.training import MODELS, ModelEntry, register_model
from tensorgrad.training.models import IMAGE_SHAPE

NAME = "image-probe"


class ImageProbe(nn.Module):
    """Flatten, Dropout, Linear(784, 10); in train mode it updates `running_logits` (a moving average of the
    batch's mean logits) and counts its steps in `steps` (int64); in eval mode it subtracts
    `running_logits` from the logits, so predictions depend on the buffers, as batch norm's do.

    It refuses anything but image-shaped batches, and keeps the last batch it saw in each mode.
    """

    input_shape = IMAGE_SHAPE

    def __init__(self, rng=None, momentum: float = 0.1):
        super().__init__()
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(0.1, rng=self.rng)
        self.linear = nn.Linear(784, 10, rng=self.rng)
        self.register_buffer("running_logits", np.zeros(10, dtype=np.float32))
        self.register_buffer("steps", np.array(0, dtype=np.int64))
        self.momentum = np.float32(momentum)
        self.last_batch = {}

    def forward(self, x):
        if tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"ImageProbe takes (N, 1, 28, 28) images, got {x.shape}")
        self.last_batch[self.training] = np.array(getattr(x, "data", x))
        logits = self.linear(self.dropout(self.flatten(x)))
        if self.training:
            mean = logits.data.mean(axis=0)
            self.running_logits.data[...] += self.momentum * (mean - self.running_logits.data)
            self.steps.data += 1
            return logits
        return logits - tg.tensor(self.running_logits.data)


def probe_state(config) -> dict:
    return {
        "linear.weight": ((10, 784), "f"),
        "linear.bias": ((10,), "f"),
        "running_logits": ((10,), "f"),
        "steps": ((), "i"),
    }


ENTRY = ModelEntry(
    build=lambda config, rng: ImageProbe(rng),
    state=probe_state,
    describe=lambda config: f"model {NAME}",
    summary="a probe of the training layer",
)


@contextlib.contextmanager
def registered():
    """The probe in the model registry for the block (`TrainConfig(model=NAME)`, `--model image-probe`)."""
    register_model(NAME, ENTRY)
    try:
        yield
    finally:
        MODELS.pop(NAME, None)
