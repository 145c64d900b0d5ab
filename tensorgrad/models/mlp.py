"""The paper's Fashion-MNIST network: 784-196-64-10, ReLU, dropout (keep 0.9), softmax cross-entropy + L2."""

from __future__ import annotations

import numpy as np

from tensorgrad import nn
from tensorgrad.models.loss import CrossEntropyWithL2
from tensorgrad.random import as_generator

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class MLP(CrossEntropyWithL2, nn.Sequential):
    """A fully connected network: Linear, activation, Dropout for each hidden layer, then a Linear output.

    Its layers sit at the same indices as in the equivalent ``torch.nn.Sequential`` (0, 3, 6 for the paper's
    sizes), so a state dict carries over key for key. Weights get He init, biases zero. `rng` (a Generator or
    a seed) draws the initial weights and then the dropout masks; `self.rng` is kept for checkpoints.

    >>> model = MLP()                      # 784-196-64-10, ReLU, keep 0.9
    >>> loss = model.loss(x_batch, y_batch, l2=1e-4)

    `input_shape` is (sizes[0],): the training loop hands it flat rows, whatever the shape of the images.
    """

    def __init__(self, sizes=(784, 196, 64, 10), activation: str = "relu", keep_prob: float = 0.9, rng=None,
                 dtype=np.float32):  # fmt: skip
        if len(sizes) < 2:
            raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
        rng = as_generator(rng) if rng is not None else np.random.default_rng()
        layers = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out, rng=rng, dtype=dtype), ACTIVATIONS[activation]()]
            layers.append(nn.Dropout(round(1.0 - keep_prob, 12), rng=rng))
        layers.append(nn.Linear(sizes[-2], sizes[-1], rng=rng, dtype=dtype))
        super().__init__(*layers)
        self.sizes = tuple(sizes)
        self.input_shape = (self.sizes[0],)
        self.activation = activation
        self.keep_prob = keep_prob
        self.rng = rng

    def weights(self) -> list:
        """The weight matrices (what the L2 penalty applies to; biases are not penalized)."""
        return [layer.weight for layer in self._modules.values() if isinstance(layer, nn.Linear)]

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, activation={self.activation!r}, keep_prob={self.keep_prob}"
