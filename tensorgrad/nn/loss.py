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


class _PairLoss(Module):
    """A loss of (input, target) with a `reduction`, calling `function` (a `tensorgrad.functional` name)."""

    function = ""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def options(self) -> dict:
        return {}

    def forward(self, input, target) -> Tensor:
        function = getattr(F, self.function)
        return function(_as_tensor(input), target, reduction=self.reduction, **self.options())


class MSELoss(_PairLoss):
    """Mean squared error, as `torch.nn.MSELoss`."""

    function = "mse_loss"


class L1Loss(_PairLoss):
    """Mean absolute error, as `torch.nn.L1Loss`."""

    function = "l1_loss"


class SmoothL1Loss(_PairLoss):
    """Squared below `beta`, absolute above, as `torch.nn.SmoothL1Loss`."""

    function = "smooth_l1_loss"

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def options(self) -> dict:
        return {"beta": self.beta}


class HuberLoss(_PairLoss):
    """Squared below `delta`, linear above, as `torch.nn.HuberLoss`."""

    function = "huber_loss"

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def options(self) -> dict:
        return {"delta": self.delta}


class NLLLoss(_PairLoss):
    """Negative log-likelihood of log-probabilities, as `torch.nn.NLLLoss`; `weight` is a buffer."""

    function = "nll_loss"

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def options(self) -> dict:
        return {"weight": self.weight, "ignore_index": self.ignore_index}


class BCELoss(_PairLoss):
    """Binary cross-entropy of probabilities, as `torch.nn.BCELoss`; `weight` is a buffer."""

    function = "binary_cross_entropy"

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)

    def options(self) -> dict:
        return {"weight": self.weight}


class BCEWithLogitsLoss(_PairLoss):
    """Binary cross-entropy of logits, stable for large ones, as `torch.nn.BCEWithLogitsLoss`."""

    function = "binary_cross_entropy_with_logits"

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def options(self) -> dict:
        return {"weight": self.weight, "pos_weight": self.pos_weight}
