"""An exponential moving average of a model's weights, evaluated in its place (as timm's `ModelEmaV2`)."""

from __future__ import annotations

import copy

import numpy as np

from .. import nn


class ModelEMA:
    """A copy of `model` whose parameters follow the model's as an exponential moving average.

    Each `update(model)`, after an optimizer step, moves every averaged parameter towards the model's:
    ``ema += (1 - decay) * (param - ema)``, which is PyTorch's `AveragedModel` with
    `get_ema_multi_avg_fn(decay)` (a lerp) and timm's `ModelEmaV2`. Buffers (batch norm's running
    statistics) are copied from the model, not averaged, as both do. The average starts from the model's
    weights at construction (timm's choice). With `warmup` (the default) the decay of the update after n
    updates is min(decay, (1 + n) / (10 + n)), TensorFlow's `ExponentialMovingAverage(num_updates=)`: 0.1,
    0.18, 0.25, ... passing 0.999 after about 9,000 updates, so that the average of a short run is not mostly the
    initial weights (with 0.999 and no warm-up they still weigh 65% after 430 steps); `warmup=False` is
    the plain lerp at `decay` from the first step. `updates` counts the updates (checkpoints keep it).
    `module` is the averaged model, an `nn.Module` to evaluate, save and load like any other.

    >>> ema = ModelEMA(model, decay=0.999)
    >>> optimizer.step(); ema.update(model)
    >>> evaluate(ema.module, x, y)
    """

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ModelEMA: decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.module = copy.deepcopy(model)  # independent arrays, even where the model's are views of a buffer
        self.module.zero_grad()
        self._parameters = list(self.module.parameters())
        # One scratch array per parameter: an update allocates nothing (fresh weight-sized arrays cost page
        # faults every step).
        self._scratch = [np.empty_like(p.data) for p in self._parameters]

    def update(self, model: nn.Module) -> None:
        """Average `model`'s current parameters in (and copy its buffers); `model` must be the one copied."""
        parameters = list(model.parameters())
        if len(parameters) != len(self._parameters):
            raise ValueError(
                f"ModelEMA.update: the model has {len(parameters)} parameters, the average {len(self._parameters)}"
            )
        decay = self.current_decay()
        self.updates += 1
        for average, param, scratch in zip(self._parameters, parameters, self._scratch):
            weight = np.asarray(1.0 - decay, dtype=average.data.dtype)
            np.subtract(param.data, average.data, out=scratch)
            scratch *= weight
            average.data += scratch
        for average, buffer in zip(self.module.buffers(), model.buffers()):
            average.data[...] = buffer.data

    def current_decay(self) -> float:
        """The decay the next `update` uses: `decay`, or less during the warm-up (see the class)."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    def state_dict(self):
        """The averaged model's state dict (parameters and buffers)."""
        return self.module.state_dict()

    def load_state_dict(self, state) -> None:
        self.module.load_state_dict(state)

    def __repr__(self) -> str:
        return f"ModelEMA(decay={self.decay}, warmup={self.warmup}, module={type(self.module).__name__})"
