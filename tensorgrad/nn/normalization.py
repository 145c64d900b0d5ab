"""Batch normalization layers (PyTorch's `nn.BatchNorm1d` and `nn.BatchNorm2d`), running statistics as buffers."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .layers import _as_tensor
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    """Batch norm over axis 1, as PyTorch's: batch statistics while training (updating the running ones),
    the running statistics in eval mode.

    `momentum` weighs each batch in the running statistics; None makes them the cumulative average of all
    batches so far (weight 1 / num_batches_tracked). With `track_running_stats=False` there are no running
    statistics and batch statistics are used in eval mode too. `affine` adds a learnable weight (ones) and,
    unless `bias=False` (PyTorch's keyword), a bias (zeros). State dict keys: weight, bias, running_mean,
    running_var, num_batches_tracked.
    """

    #: the input dimensions this layer accepts, and how an error names them
    dims: tuple = ()
    expected = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, bias: bool = True, dtype=np.float32):  # fmt: skip
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked (in place)."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x) -> Tensor:
        x = _as_tensor(x)
        if x.ndim not in self.dims:
            raise ValueError(f"{type(self).__name__}: expected {self.expected} input, got shape {x.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1  # in place: the buffer keeps its array
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        # without running statistics, batch statistics serve in eval mode too (as PyTorch)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs (see `_BatchNorm`)."""

    dims = (2, 3)
    expected = "a 2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs (see `_BatchNorm`)."""

    dims = (4,)
    expected = "a 4-D (N, C, H, W)"
