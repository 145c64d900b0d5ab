"""Layers: `Linear`, activations, `Softmax`/`LogSoftmax`, `Dropout`, `Dropout2d`, `Flatten`, `Identity`,
`LayerNorm`, `Embedding`, `Sequential`."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..random import as_generator
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


class Softmax(Module):
    """softmax along `dim`: each slice along it becomes probabilities that sum to 1."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x) -> Tensor:
        return F.softmax(_as_tensor(x), self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along `dim`, computed stably (log-sum-exp)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x) -> Tensor:
        return F.log_softmax(_as_tensor(x), self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer); takes and ignores any arguments, as PyTorch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


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
        return f"p={self.p}, inplace=False"  # PyTorch's text; tensorgrad never drops out in place


class Dropout2d(Dropout):
    """Channel dropout: each channel of each example is zeroed with probability `p` while training, the
    others scaled by 1 / (1 - p); the identity in eval mode. `rng` as for `Dropout`."""

    def forward(self, x) -> Tensor:
        return F.dropout2d(_as_tensor(x), self.p, self.training, self.rng)


class Flatten(Module):
    """Merge the axes from `start_dim` to `end_dim` into one; by default all after the first (the batch):
    (N, 28, 28) -> (N, 784)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x) -> Tensor:
        return _as_tensor(x).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


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


class LeakyReLU(Module):
    """max(0, x) + negative_slope * min(0, x), as `torch.nn.LeakyReLU`."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x) -> Tensor:
        return F.leaky_relu(_as_tensor(x), self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """x * Phi(x), exact (`approximate="none"`) or through tanh (`"tanh"`), as `torch.nn.GELU`."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x) -> Tensor:
        return F.gelu(_as_tensor(x), approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x), as `torch.nn.SiLU`."""

    def forward(self, x) -> Tensor:
        return F.silu(_as_tensor(x))


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above `threshold`, as `torch.nn.Softplus`."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x) -> Tensor:
        return F.softplus(_as_tensor(x), beta=self.beta, threshold=self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LayerNorm(Module):
    """Normalize over the last `len(normalized_shape)` axes, then scale and shift, as `torch.nn.LayerNorm`.

    `weight` starts at ones and `bias` at zeros (PyTorch's init); `elementwise_affine=False` has neither.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=np.float32):  # fmt: skip
        super().__init__()
        shape = (
            (normalized_shape,)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(normalized_shape)
        )
        self.normalized_shape = tuple(int(size) for size in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        self.bias = (
            Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if elementwise_affine and bias else None
        )

    def forward(self, x) -> Tensor:
        return F.layer_norm(_as_tensor(x), self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class Embedding(Module):
    """A lookup table of `num_embeddings` vectors of size `embedding_dim`, as `torch.nn.Embedding`.

    The weight starts standard normal (PyTorch's init), with the `padding_idx` row zero; that row gets no
    gradient. `rng` (a Generator or a seed) draws the weight.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, rng=None,
                 dtype=np.float32):  # fmt: skip
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})"
                )
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        weight = as_generator(rng).standard_normal((num_embeddings, embedding_dim), dtype=np.dtype(dtype))
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, indices) -> Tensor:
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        extra = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"
