"""`Optimizer`: the base of SGD, Momentum and Adam, with state in flat buffers parallel to the parameters."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .flat import FlatParameters


class Optimizer:
    """Updates parameters from their `.grad`. Subclasses define `_update` on (slices of) flat arrays.

    Per-parameter state (momentum buffers, Adam moments) lives in flat arrays parallel to the parameters,
    and `self.steps[i]` counts the steps parameter i took. When every parameter has a gradient and the same
    step count (the usual case) one `_update` call covers them all; otherwise each parameter that has a
    gradient is updated on its own slice, and the others are left alone, as in PyTorch.
    """

    #: names of the flat state arrays a subclass keeps (saved by state_dict)
    state_names: tuple = ()
    #: names of the hyperparameters (saved by state_dict, restored by load_state_dict)
    hyperparameter_names: tuple = ("lr",)

    def __init__(self, params):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"optimizer parameter {i} is not a leaf tensor that requires grad")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer got the same parameter more than once")
        self.params = params
        self.flat = FlatParameters(params)
        self.steps = np.zeros(len(params), dtype=np.int64)
        self._steps_agree = True  # every parameter has taken the same number of steps: one update covers all
        self.state = {name: np.zeros_like(self.flat.data) for name in self.state_names}
        self._scratch = np.empty_like(self.flat.data)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: to None (PyTorch's default), or to zeros with `set_to_none=False`.

        Either way backward then writes them into this optimizer's flat gradient buffer, so `.grad` arrays
        are reused from step to step: copy one if you need to keep it past the next backward.
        """
        if set_to_none:
            for p in self.params:
                p.grad = None
        else:
            self.flat.zero_grads()

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        self.flat.sync()
        present = self.flat.gather_grads()
        if len(present) == len(self.params) and self._steps_agree:
            self.steps += 1
            self._update(slice(None), int(self.steps[0]))
            return
        for i, part in self.flat.slices():
            if i in present:
                self.steps[i] += 1
                self._update(part, int(self.steps[i]))
        self._steps_agree = bool((self.steps == self.steps[0]).all())

    def _update(self, part: slice, step: int) -> None:
        """Update `self.flat.data[part]` from `self.flat.grad[part]`; `step` counts from 1."""
        raise NotImplementedError

    # ----- saving and loading
    def hyperparameters(self) -> dict:
        return {name: getattr(self, name) for name in self.hyperparameter_names}

    def state_dict(self) -> dict:
        """{name: ndarray}: step counts, flat state arrays and hyperparameters (copies; no pickle needed)."""
        state = {"steps": self.steps.copy()}
        state.update({name: array.copy() for name, array in self.state.items()})
        state.update({name: np.asarray(value) for name, value in self.hyperparameters().items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned, checking that it fits these parameters."""
        expected = {"steps", *self.state_names, *self.hyperparameter_names}
        missing = sorted(expected - set(state))
        if missing:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing {missing}")
        steps = np.asarray(state["steps"])
        if steps.shape != self.steps.shape:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state is for {steps.size} parameters, "
                f"this optimizer has {self.steps.size}"
            )
        for name in self.state_names:
            array = np.asarray(state[name])
            if array.shape != self.state[name].shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: {name} has {array.size} elements, "
                    f"the parameters have {self.flat.data.size}"
                )
        self.steps[...] = steps
        self._steps_agree = bool((self.steps == self.steps[0]).all())
        for name in self.state_names:
            self.state[name][...] = state[name]
        for name in self.hyperparameter_names:
            value = np.asarray(state[name])
            setattr(self, name, value.item() if value.ndim == 0 else tuple(value.tolist()))

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({settings})"
