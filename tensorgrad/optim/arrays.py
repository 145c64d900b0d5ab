"""An optimizer's state dict as flat named arrays, for files such as `.npz` that hold no nested objects."""

from __future__ import annotations

import numpy as np


def state_to_arrays(state_dict: dict) -> dict:
    """`Optimizer.state_dict()` flattened: {"state/<i>/<name>": array, "param_groups/<g>/<option>": array}.

    Options become arrays too (betas a 1-d array, flags 0-d bools); `state_from_arrays` undoes it.
    """
    arrays = {}
    for index, entry in state_dict["state"].items():
        for name, value in entry.items():
            arrays[f"state/{index}/{name}"] = np.asarray(value)
    for index, group in enumerate(state_dict["param_groups"]):
        for option, value in group.items():
            arrays[f"param_groups/{index}/{option}"] = np.asarray(value)
    return arrays


def state_from_arrays(arrays: dict) -> dict:
    """The nested state dict (for `Optimizer.load_state_dict`) of what `state_to_arrays` returned."""
    state, groups = {}, {}
    for key, value in arrays.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[0] not in ("state", "param_groups") or not parts[1].isdigit():
            raise KeyError(
                f"optimizer entry {key!r} is neither state/<index>/<name> nor param_groups/<index>/<option>"
            )
        section, index, name = parts
        (state if section == "state" else groups).setdefault(int(index), {})[name] = value
    if sorted(groups) != list(range(len(groups))):
        raise KeyError(f"optimizer parameter groups {sorted(groups)} are not numbered 0, 1, ...")
    return {"state": state, "param_groups": [groups[index] for index in range(len(groups))]}
