"""A small convolutional network for 28x28 grey images (Fashion-MNIST): three conv blocks, two dense layers."""

from __future__ import annotations

import numpy as np

from tensorgrad import nn
from tensorgrad.models.inputs import checked_gamma, gamma_curve, gamma_repr
from tensorgrad.models.loss import CrossEntropyWithL2
from tensorgrad.nn.layers import _as_tensor
from tensorgrad.random import as_generator
from tensorgrad.tensor import Tensor


def block_pools(image_size: int, blocks: int) -> list[bool]:
    """Whether each of `blocks` conv blocks max-pools 2x2: while the side it gets is even (28 -> 14 -> 7, and
    the blocks after that keep 7x7)."""
    pools, side = [], image_size
    for _ in range(blocks):
        pools.append(side % 2 == 0)
        side = side // 2 if pools[-1] else side
    return pools


def pooled_side(image_size: int, pools: list[bool]) -> int:
    """The image side after the blocks `pools` describes (`block_pools`): each pooling one halves it."""
    return image_size // 2 ** sum(pools)


class CNN(CrossEntropyWithL2, nn.Sequential):
    """conv 3x3 (pad 1) - max pool 2 - BatchNorm - ReLU per block of `channels`, each block pooling while
    the side it gets is even (`block_pools`: 28 -> 14 -> 7, and a third block keeps 7x7); then Linear -
    ReLU - Dropout - Linear.

    With the defaults (channels (32, 64, 64), hidden 128) it has 458,890 parameters. Its layers sit at the
    same indices as in the equivalent ``torch.nn.Sequential``, so a state dict (running statistics
    included) carries over key for key::

        torch.nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))

    Input (N, 1, 28, 28); flat rows (N, 784) are taken as such images. `input_gamma=g` (not 1) raises each
    pixel to the power g first (a gamma curve, as `MLP`'s), so the model still takes pixels in [0, 1]; the
    state dict is the same either way. `init` is "torch" (PyTorch's default initialization, the default) or
    "he". `rng` (a Generator or a seed) draws the initial weights and then
    the dropout masks; `self.rng` is kept for checkpoints.
    """

    def __init__(self, channels=(32, 64, 64), hidden: int = 128, classes: int = 10, dropout: float = 0.3,
                 image_size: int = 28, in_channels: int = 1, init: str = "torch", rng=None,
                 dtype=np.float32, input_gamma: float = 1.0):  # fmt: skip
        input_gamma = checked_gamma(input_gamma)
        rng = as_generator(rng) if rng is not None else np.random.default_rng()
        layers = []
        previous, pools = in_channels, block_pools(image_size, len(channels))
        for width, pool in zip(channels, pools):
            layers.append(nn.Conv2d(previous, width, 3, padding=1, rng=rng, dtype=dtype, init=init))
            if pool:
                # pooling first: batch norm and ReLU then touch a quarter of the numbers. The order changes
                # little else: max pooling commutes with ReLU, and with batch norm's per-channel scaling
                # where that is positive (the statistics are then those of the pooled values).
                layers.append(nn.MaxPool2d(2))
            layers += [nn.BatchNorm2d(width, dtype=dtype), nn.ReLU()]
            previous = width
        layers += [
            nn.Flatten(),
            nn.Linear(
                previous * pooled_side(image_size, pools) ** 2, hidden, rng=rng, dtype=dtype, init=init
            ),
            nn.ReLU(),
            nn.Dropout(dropout, rng=rng),
            nn.Linear(hidden, classes, rng=rng, dtype=dtype, init=init),
        ]
        super().__init__(*layers)
        self.channels, self.hidden, self.classes, self.dropout = tuple(channels), hidden, classes, dropout
        self.image_shape = (in_channels, image_size, image_size)
        self.input_gamma = input_gamma
        self.rng = rng

    def forward(self, x):
        if x.ndim == 2:  # flat rows, as the data loader gives them: back to images
            x = (x if isinstance(x, Tensor) else Tensor(x)).reshape(x.shape[0], *self.image_shape)
        return super().forward(gamma_curve(_as_tensor(x), self.input_gamma))

    def weights(self) -> list:
        """The convolution kernels and weight matrices (what an L2 penalty applies to)."""
        return [layer.weight for layer in self._modules.values() if isinstance(layer, (nn.Conv2d, nn.Linear))]

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, hidden={self.hidden}, classes={self.classes}, dropout={self.dropout}"
            f"{gamma_repr(self.input_gamma)}"
        )
