"""The paper's Fashion-MNIST network: 784-196-64-10, ReLU, dropout (keep 0.9), softmax cross-entropy + L2."""

from __future__ import annotations

import numpy as np

from tensorgrad import nn
from tensorgrad.models.inputs import checked_gamma, gamma_curve, gamma_repr
from tensorgrad.models.loss import CrossEntropyWithL2
from tensorgrad.nn.layers import _as_tensor
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

    Two steps may come before the first layer, so that whatever calls the model (evaluation, prediction,
    ONNX export) hands it pixels in [0, 1] as before:
    - `input_gamma=g` (not 1) raises each pixel to the power g (a gamma curve: g < 1 spreads out the dark
      greys, where Fashion-MNIST's textures are). The derivative of x^g is infinite at x = 0, so a
      gradient with respect to a black input pixel is too (as torch's `x ** 0.5` gives).
    - `standardize=True` then standardizes, `(x - input_mean) / input_std`, as torchvision's `Normalize`
      would, with one mean and one deviation per pixel: buffers (state dict keys "input_mean" and
      "input_std"), 0 and 1 (no change) until `set_input_statistics` fits them to training images or a
      state dict loads them.
    """

    def __init__(self, sizes=(784, 196, 64, 10), activation: str = "relu", keep_prob: float = 0.9, rng=None,
                 dtype=np.float32, standardize: bool = False, input_gamma: float = 1.0):  # fmt: skip
        if len(sizes) < 2:
            raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
        input_gamma = checked_gamma(input_gamma)
        rng = as_generator(rng) if rng is not None else np.random.default_rng()
        layers = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out, rng=rng, dtype=dtype), ACTIVATIONS[activation]()]
            layers.append(nn.Dropout(round(1.0 - keep_prob, 12), rng=rng))
        layers.append(nn.Linear(sizes[-2], sizes[-1], rng=rng, dtype=dtype))
        super().__init__(*layers)
        if standardize:
            self.register_buffer("input_mean", np.zeros(sizes[0], dtype))
            self.register_buffer("input_std", np.ones(sizes[0], dtype))
        self.standardize = standardize
        self.input_gamma = input_gamma
        self.sizes = tuple(sizes)
        self.input_shape = (self.sizes[0],)
        self.activation = activation
        self.keep_prob = keep_prob
        self.rng = rng

    def forward(self, x):
        x = gamma_curve(_as_tensor(x), self.input_gamma)
        if self.standardize:
            x = (x - self.input_mean) / self.input_std
        return super().forward(x)

    def set_input_statistics(self, images: np.ndarray, floor: float) -> None:
        """Standardize inputs by `images`' statistics (after the gamma curve): each pixel's mean, and its
        standard deviation plus `floor` (> 0), which keeps the border pixels that are nearly always black
        from being scaled up hundreds of times. `images` (N, ...) flatten to (N, sizes[0]); the model needs
        `standardize=True`."""
        if not self.standardize:
            raise ValueError("set_input_statistics: this MLP was built with standardize=False")
        if not floor > 0:
            raise ValueError(f"set_input_statistics: floor must be > 0, got {floor}")
        rows = np.asarray(images).reshape(len(images), -1)
        if rows.shape[1] != self.sizes[0] or len(rows) < 2:
            raise ValueError(
                f"set_input_statistics: expected two or more images of {self.sizes[0]} values, "
                f"got an array of shape {np.shape(images)}"
            )
        # the same curve as forward's, so the statistics are those of the values it standardizes
        mean, variance = _column_moments(rows, lambda chunk: gamma_curve(chunk, self.input_gamma))
        self.input_mean.data[...] = mean
        self.input_std.data[...] = np.sqrt(variance) + floor

    def weights(self) -> list:
        """The weight matrices (what the L2 penalty applies to; biases are not penalized)."""
        return [layer.weight for layer in self._modules.values() if isinstance(layer, nn.Linear)]

    def extra_repr(self) -> str:
        steps = (", standardize=True" if self.standardize else "") + gamma_repr(self.input_gamma)
        return f"sizes={self.sizes}, activation={self.activation!r}, keep_prob={self.keep_prob}{steps}"


def _column_moments(rows: np.ndarray, transform, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and (population) variance of `transform(rows)` in float64, a chunk of rows at a
    time (a float64 copy of the whole training set would be 370 MB), the chunks' moments combined as in
    Chan, Golub and LeVeque's pairwise update."""
    count, mean, squares = 0, np.zeros(rows.shape[1]), np.zeros(rows.shape[1])
    for start in range(0, len(rows), chunk):
        part = np.asarray(transform(rows[start : start + chunk]), dtype=np.float64)
        part_mean = part.mean(axis=0)
        delta, total = part_mean - mean, count + len(part)
        squares += np.square(part - part_mean).sum(axis=0) + np.square(delta) * (count * len(part) / total)
        mean += delta * (len(part) / total)
        count = total
    return mean, squares / count
