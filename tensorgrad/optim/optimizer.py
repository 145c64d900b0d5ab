"""`Optimizer`: the base of every optimizer: PyTorch's parameter groups over one flat parameter buffer."""

from __future__ import annotations

import numpy as np

from ..grad_mode import enable_grad
from ..tensor import Tensor
from .flat import FlatParameters

#: options PyTorch's optimizers take that tensorgrad's do not implement; a group (or a loaded PyTorch state
#: dict) may carry them only at these values, which are PyTorch's defaults, and they are then left out
UNSUPPORTED_OPTIONS = {
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": None,
}


class Optimizer:
    """Updates parameters from their `.grad`, as PyTorch's ``torch.optim.Optimizer``.

    `params` is an iterable of tensors, or of dicts (parameter groups) such as
    ``[{"params": weights}, {"params": biases, "weight_decay": 0.0}]``; a group's options override the
    optimizer's defaults. `param_groups` is that list of dicts, with every option filled in; schedulers and
    users change a group's options (``group["lr"]``) between steps.

    Every parameter's data lives in one flat buffer (see `FlatParameters`), groups one after another, and
    per-parameter state (momentum buffers, moments) in flat arrays parallel to it, so a group's update is
    a few vector operations over its slice. `self.steps[i]` counts the steps parameter i took. When every
    parameter has a gradient and the same step count (the usual case), each group is updated in one
    `_update` call; otherwise each parameter that has a gradient is updated on its own slice and the
    others are left alone, as in PyTorch.
    """

    #: names of the flat state arrays every instance keeps (others a subclass allocates when first needed)
    state_names: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        groups = list(params) if not isinstance(params, Tensor) else [params]
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list = []
        for group in groups:
            self.param_groups.append(self._new_group(group))
        self._allocate()

    # ----- parameter groups
    def _new_group(self, group) -> dict:
        """A parameter group with every option filled in, after checking its parameters and options."""
        if not isinstance(group, dict):
            raise TypeError(
                f"{type(self).__name__}: parameter groups must all be dicts, got a {type(group).__name__}"
            )
        if "params" not in group:
            raise KeyError(f"{type(self).__name__}: a parameter group needs a 'params' entry")
        params = group["params"]
        if isinstance(params, set):
            raise TypeError(
                f"{type(self).__name__}: parameters must be given in an ordered collection, not a set"
            )
        params = [params] if isinstance(params, Tensor) else list(params)
        taken = {id(p) for g in getattr(self, "param_groups", []) for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"optimizer parameter {i} is not a leaf tensor that requires grad")
            if id(p) in taken:
                raise ValueError("optimizer got the same parameter more than once")
            taken.add(id(p))
        options = self._options({key: value for key, value in group.items() if key != "params"})
        return {"params": params, **{**self.defaults, **options}}

    def _options(self, options: dict) -> dict:
        """`options` checked (`_check`) and without PyTorch's unsupported ones (allowed at their defaults)."""
        kept = {}
        for key, value in options.items():
            if key in UNSUPPORTED_OPTIONS and key not in self.defaults:
                if value != UNSUPPORTED_OPTIONS[key]:
                    raise ValueError(
                        f"{type(self).__name__}: {key}={value!r} is not supported "
                        f"(only {key}={UNSUPPORTED_OPTIONS[key]!r})"
                    )
                continue
            kept[key] = _plain(value)
        self._check({**self.defaults, **kept})
        return kept

    def _check(self, options: dict) -> None:
        """Raise ValueError if an option of a group is out of range (subclasses check theirs)."""
        if options["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {options['lr']}")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (with its own options) to an optimizer already in use."""
        group = self._new_group(param_group)
        self.param_groups.append(group)
        self._allocate(previous=(self.state, self.steps, self._records))

    def _allocate(self, previous=None) -> None:
        """(Re)build the flat buffers behind all groups. New parameters start with fresh state; `previous`
        (state arrays, step counts, records) is kept for the parameters that were there before."""
        self.params = [p for group in self.param_groups for p in group["params"]]
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        self.flat = FlatParameters(self.params)
        self._scratch = np.empty_like(self.flat.data)
        # (group, slice of the flat buffers, parameter indices) per group
        self._spans = []
        self._group_of = []
        start = 0
        for group in self.param_groups:
            stop = start + len(group["params"])
            part = slice(self.flat.offsets[start], self.flat.offsets[stop])
            self._spans.append((group, part, range(start, stop)))
            self._group_of.extend([group] * (stop - start))
            start = stop
        self._param_parts = [part for _, part in self.flat.slices()]
        old_state, old_steps, old_records = previous if previous is not None else ({}, [], [])
        self.steps = np.zeros(len(self.params), dtype=np.int64)
        self.steps[: len(old_steps)] = old_steps
        #: per parameter, small facts a subclass keeps beside the flat state (which betas Adam's sums use)
        self._records = [*old_records, *({} for _ in range(len(self.params) - len(old_records)))]
        self.state: dict = {}
        for name in (*self.state_names, *old_state):
            self._state_array(name)
        for name, array in old_state.items():
            self.state[name][: array.size] = array
        for i in range(len(old_records), len(self.params)):
            self._reset_param(i, self._group_of[i])
        self._steps_agree = bool((self.steps == self.steps[0]).all())

    def _state_array(self, name: str) -> np.ndarray:
        """The flat state array `name`, allocated (zeros, then `_initial_state`) the first time it is asked for."""
        array = self.state.get(name)
        if array is None:
            array = self.state[name] = np.zeros_like(self.flat.data)
            for group, part, _ in self._spans:
                self._initial_state(name, group, array[part])
        return array

    def _initial_state(self, name: str, group: dict, part: np.ndarray) -> None:
        """Fill a fresh state array's slice for `group` (zeros already; Adagrad starts from another value)."""

    def _reset_param(self, i: int, group: dict) -> None:
        """Give parameter i fresh state; subclasses reset what they record per parameter too."""
        part = self._param_parts[i]
        for name, array in self.state.items():
            array[part] = 0
            self._initial_state(name, group, array[part])
        self.steps[i] = 0
        self._records[i] = {}

    # ----- stepping
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

    def step(self, closure=None):
        """Apply one update to every parameter that has a gradient.

        `closure`, if given, is called first (with gradients recorded) and its result returned, as in PyTorch:
        it should zero the gradients, compute the loss, call backward and return the loss.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self.flat.sync()
        present = self.flat.gather_grads()
        if len(present) == len(self.params) and self._steps_agree:
            self.steps += 1
            step = int(self.steps[0])
            for group, part, indices in self._spans:
                if indices:
                    self._update(group, part, indices, step)
            return loss
        for i in present:
            self.steps[i] += 1
            self._update(self._group_of[i], self._param_parts[i], range(i, i + 1), int(self.steps[i]))
        self._steps_agree = bool((self.steps == self.steps[0]).all())
        return loss

    def _update(self, group: dict, part: slice, indices: range, step: int) -> None:
        """Update `self.flat.data[part]` (the parameters `indices`, all in `group`) from `self.flat.grad[part]`
        with the group's options; `step` counts from 1."""
        raise NotImplementedError

    @property
    def lr(self) -> float:
        """The learning rate when every group has the same one (a shortcut: schedulers set group["lr"])."""
        rates = {group["lr"] for group in self.param_groups}
        if len(rates) != 1:
            raise ValueError(
                f"the parameter groups have different learning rates {sorted(rates)}; "
                "read optimizer.param_groups[i]['lr']"
            )
        return rates.pop()

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = value

    # ----- saving and loading, in PyTorch's layout
    def state_dict(self) -> dict:
        """PyTorch's layout: ``{"state": {index: {name: ndarray}}, "param_groups": [{option: value, ...,
        "params": [index, ...]}]}``, parameters numbered across groups in order; only parameters that have
        state appear under "state". Copies, which load into the PyTorch optimizer of the same name (after
        `torch.as_tensor` on the arrays) and back."""
        state = {}
        for i, group in enumerate(self._group_of):
            entry = self._param_state(i, group, self._param_parts[i])
            if entry:
                shape = self.params[i].shape
                state[i] = {k: v.reshape(shape) if k != "step" else v for k, v in entry.items()}
        groups = []
        for group, _, indices in self._spans:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = list(indices)
            groups.append(packed)
        return {"state": state, "param_groups": groups}

    def _param_state(self, i: int, group: dict, part: slice) -> dict:
        """The state of parameter i under PyTorch's names (flat copies, "step" a float32 0-d array), or {}."""
        return {}

    def _step_array(self, i: int) -> np.ndarray:
        return np.asarray(
            float(self.steps[i]), dtype=np.float32
        )  # PyTorch keeps the step as a float32 tensor

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what `state_dict` returned (or a PyTorch optimizer's state dict, tensors as arrays).

        The groups' options are taken from `state_dict`; parameters are matched by position. Raises
        KeyError/ValueError, before changing anything, if it does not fit these parameters.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise KeyError(f"{name}.load_state_dict: expected 'state' and 'param_groups' entries, got {keys}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        index_of = {}  # a parameter's number in the saved state -> its index here
        options = []
        for g, (saved, (_, _, indices)) in enumerate(zip(saved_groups, self._spans)):
            saved_params = [int(i) for i in np.asarray(saved["params"]).ravel()]
            if len(saved_params) != len(indices):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {g} holds {len(saved_params)} parameters in "
                    f"the state, {len(indices)} here"
                )
            index_of.update(zip(saved_params, indices))
            options.append(self._options({k: v for k, v in saved.items() if k != "params"}))
        entries = {}
        for key, entry in state_dict["state"].items():
            if int(key) not in index_of:
                raise ValueError(f"{name}.load_state_dict: state for parameter {key}, which no group holds")
            i = index_of[int(key)]
            entries[i] = self._checked_entry(i, {**self.defaults, **options[self._group_index(i)]}, entry)
        for group, new_options in zip(self.param_groups, options):
            params = group["params"]
            group.clear()
            group.update({"params": params, **self.defaults, **new_options})
        for i, group in enumerate(self._group_of):
            self._reset_param(i, group)
        for i, entry in entries.items():
            self.steps[i] = round(float(entry.pop("step", 0)))
            self._load_param_state(i, self._group_of[i], self._param_parts[i], entry)
        self._steps_agree = bool((self.steps == self.steps[0]).all())

    def _group_index(self, i: int) -> int:
        return next(g for g, (_, _, indices) in enumerate(self._spans) if i in indices)

    def _checked_entry(self, i: int, group: dict, entry: dict) -> dict:
        """Parameter i's saved state as arrays, each checked against the parameter's size."""
        name, size = type(self).__name__, self.params[i].data.size
        missing = [key for key in self._required_state(group) if key not in entry]
        if missing:
            raise KeyError(f"{name}.load_state_dict: the state of parameter {i} lacks {missing}")
        arrays = {}
        for key, value in entry.items():
            if value is None:
                continue
            array = np.asarray(value)
            if key != "step" and array.size != size:
                raise ValueError(
                    f"{name}.load_state_dict: {key} of parameter {i} has shape {array.shape}, "
                    f"the parameter has shape {self.params[i].shape}"
                )
            arrays[key] = array if key == "step" else array.reshape(-1)
        return arrays

    def _required_state(self, group: dict) -> tuple:
        """The state names a saved parameter entry must have under `group`'s options."""
        return ()

    def _load_param_state(self, i: int, group: dict, part: slice, entry: dict) -> None:
        """Copy parameter i's checked saved state (flat arrays by PyTorch's names) into the flat buffers."""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"


def _plain(value):
    """An option as a Python value: 0-d arrays (a checkpoint's) as scalars, 1-d ones as tuples (betas)."""
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else tuple(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value
