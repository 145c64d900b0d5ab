"""Layers: `Linear`, activations, `Dropout`, `Dropout2d`, `Flatten`, `Sequential`."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor, _make
from .init import initial_parameters
from .module import Module
from .parameter import Parameter


def _as_tensor(x) -> Tensor:
    """Layers accept ndarrays too (a data loader's batches), as constants."""
    if isinstance(x, Tensor):
        return x
    if x.__class__ is np.ndarray and x.dtype.kind in "biufc":
        return _make(x)  # what Tensor(x) makes of a numeric ndarray, without re-checking it every batch
    return Tensor(x)


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), bias (out_features,).

    `init="he"` (the default, the paper's recipe): He normal weight, zero bias. `init="torch"`: PyTorch's
    default, weight and bias uniform in +-1/sqrt(in_features) (see `nn.init.torch_default`).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None, dtype=np.float32,
                 init: str = "he"):  # fmt: skip
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        weight, bias_values = initial_parameters(init, (out_features, in_features), bias, rng, dtype)
        self.weight = Parameter(weight)
        self.bias = Parameter(bias_values) if bias else None

    def forward(self, x) -> Tensor:
        return F.linear(_as_tensor(x), self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )


class ReLU(Module):
    def forward(self, x) -> Tensor:
        return F.relu(_as_tensor(x))


class Tanh(Module):
    def forward(self, x) -> Tensor:
        return F.tanh(_as_tensor(x))


class Sigmoid(Module):
    def forward(self, x) -> Tensor:
        return F.sigmoid(_as_tensor(x))


class Dropout(Module):
    """Inverted dropout with drop probability `p` while training; the identity in eval mode.

    `rng` (a `np.random.Generator`) draws the masks; keep a reference to it to checkpoint its state.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.rng = rng

    def forward(self, x) -> Tensor:
        return F.dropout(_as_tensor(x), self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Module):
    """Channel dropout: each channel of each example is zeroed with probability `p` while training, the
    others scaled by 1 / (1 - p); the identity in eval mode. `rng` as for `Dropout`."""

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.rng = rng

    def forward(self, x) -> Tensor:
        return F.dropout2d(_as_tensor(x), self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merge all axes after the first: (N, 28, 28) -> (N, 784)."""

    def forward(self, x) -> Tensor:
        return _as_tensor(x).flatten(1)


class Sequential(Module):
    """Layers applied in order; registered as "0", "1", ... so state dict keys match PyTorch's."""

    def __init__(self, *layers: Module):
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Modules; item {index} is a {type(layer).__name__}")
            setattr(self, str(index), layer)

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for layer in self._modules.values():
            # layer.forward, not layer(...): Module.__call__ adds nothing but a frame, on every layer of
            # every step (revisit if modules ever get hooks)
            x = layer.forward(x)
        return x
