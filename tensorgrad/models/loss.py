"""The loss the Fashion-MNIST models share: softmax cross-entropy plus the paper's L2 term."""

from __future__ import annotations

import tensorgrad.functional as F
from tensorgrad.tensor import Tensor


class CrossEntropyWithL2:
    """Mixin for a classifier with `weights()`: `loss` = mean cross-entropy + l2 / (2 m) * sum ||W||^2."""

    def loss(self, x, y, l2: float = 0.0) -> Tensor:
        """Mean softmax cross-entropy over the batch + the paper's L2 term lam / (2 m) * sum ||W||^2."""
        return self.loss_from_logits(self(x), y, l2)

    def loss_from_logits(self, logits: Tensor, y, l2: float = 0.0) -> Tensor:
        """`loss` for logits already computed by this model (to reuse them, e.g. for the accuracy)."""
        ce = F.cross_entropy(logits, y)
        if not l2:
            return ce
        return ce + F.l2_penalty(self.weights(), l2 / len(y))
