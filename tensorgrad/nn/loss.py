"""Loss modules: PyTorch's `nn.*Loss` classes, each calling its `tensorgrad.functional` function."""

from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from .layers import _as_tensor
from .module import Module


class CrossEntropyLoss(Module):
    """Softmax cross-entropy between logits (N, C) and class indices (N,) or class probabilities (N, C), as
    `F.cross_entropy` computes it; `reduction` is "mean", "sum" or "none".

    The keywords are PyTorch's; each one given (weight, ignore_index, label_smoothing away from their
    defaults) is passed on to `F.cross_entropy`, which raises TypeError if it does not take it. `weight`
    is a buffer, so it is in the state dict as in PyTorch.
    """

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):  # fmt: skip
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def forward(self, input, target) -> Tensor:
        options = {"reduction": self.reduction}
        if self.weight is not None:
            options["weight"] = self.weight
        if self.ignore_index != -100:
            options["ignore_index"] = self.ignore_index
        if self.label_smoothing != 0.0:
            options["label_smoothing"] = self.label_smoothing
        return F.cross_entropy(_as_tensor(input), target, **options)
