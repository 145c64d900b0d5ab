"""Checkpoints as `.npz` archives: written atomically, read without pickle, checked key by key on load.

An archive holds only plain arrays (`np.load(..., allow_pickle=False)` reads it):

- ``format`` ("tensorgrad-checkpoint") and ``format_version``: what tells a checkpoint from any other `.npz`;
- ``model/<name>``: the model's state dict (PyTorch's key names, e.g. ``model/0.weight``);
- ``optimizer/<name>``: the optimizer's state dict in PyTorch's layout, flattened by `optim.state_to_arrays`
  (``optimizer/state/0/exp_avg``, ``optimizer/param_groups/0/lr``, ...);
- ``best_model/<name>``: the best weights so far (in ``last.npz``, so that resuming needs no other file);
- ``epoch``: how many epochs are complete; ``best_metric``: the early-stopping metric's best value (NaN: none);
- ``config``, ``progress`` and ``rng/<name>``: JSON text in 0-d unicode arrays: the run's settings; the
  early-stopping counters and the metrics history; each random generator's ``bit_generator.state``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic_writer
from ..optim import state_from_arrays

FORMAT = "tensorgrad-checkpoint"
FORMAT_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"
_REQUIRED = ("format_version", "config", "epoch", "best_metric", "progress")


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or does not fit; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        super().__init__(f"checkpoint {path}: {problem}")
        self.path = Path(path)
        self.problem = problem


@dataclass
class Checkpoint:
    """Everything a checkpoint holds. `config` is a `TrainConfig.to_dict()`; `progress` any JSON-ready dict."""

    config: dict
    model_state: dict
    epoch: int
    optimizer_state: dict = field(default_factory=dict)
    rng_states: dict = field(default_factory=dict)
    best_metric: float | None = None
    progress: dict = field(default_factory=dict)
    best_model_state: dict | None = None


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Checkpoint) -> None:
    """Write `checkpoint` to `path` atomically: a crash or Ctrl-C mid-write leaves any previous file intact."""
    arrays = {
        "format": np.asarray(FORMAT),
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        "config": _json_array(checkpoint.config),
        "epoch": np.asarray(checkpoint.epoch, dtype=np.int64),
        "best_metric": np.asarray(
            np.nan if checkpoint.best_metric is None else checkpoint.best_metric, np.float64
        ),
        "progress": _json_array(checkpoint.progress),
    }
    sections = {
        "model": checkpoint.model_state,
        "optimizer": checkpoint.optimizer_state,
        "best_model": checkpoint.best_model_state or {},
    }
    for section, state in sections.items():
        for name, value in state.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError(
                    f"save_checkpoint: {section}/{name} is an object array, which .npz cannot hold"
                )
            arrays[f"{section}/{name}"] = array
    for name, state in checkpoint.rng_states.items():
        arrays[f"rng/{name}"] = _json_array(state)
    with atomic_writer(path) as file:
        np.savez(file, **arrays)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and check a checkpoint; raises `CheckpointError` saying what is wrong with the file."""
    path = Path(path)
    arrays = _read_arrays(path)
    if "format" not in arrays or _text(arrays["format"]) != FORMAT:
        raise CheckpointError(
            path,
            f"not a tensorgrad checkpoint: no 'format' entry saying {FORMAT!r} (keys: {_key_list(arrays)})",
        )
    missing = [key for key in _REQUIRED if key not in arrays]
    if not any(key.startswith("model/") for key in arrays):
        missing.append("model/<parameter name>")
    if missing:
        raise CheckpointError(path, f"missing key(s) {', '.join(missing)}")
    version = _integer(path, arrays, "format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path, f"format version {version} is newer than this tensorgrad reads ({FORMAT_VERSION})"
        )
    best_metric = _scalar(path, arrays, "best_metric", "f")
    return Checkpoint(
        config=_json(path, arrays, "config"),
        model_state=_section(arrays, "model"),
        epoch=_integer(path, arrays, "epoch"),
        optimizer_state=_section(arrays, "optimizer"),
        rng_states={name: _json(path, arrays, f"rng/{name}") for name in _section(arrays, "rng")},
        best_metric=None if math.isnan(best_metric) else best_metric,
        progress=_json(path, arrays, "progress"),
        best_model_state=_section(arrays, "best_model") or None,
    )


def load_model_state(model, state: dict, path) -> None:
    """Copy `state` into `model`; a missing/unexpected key or a shape mismatch is a `CheckpointError`."""
    params = dict(model.named_parameters())
    missing = [name for name in params if name not in state]
    unexpected = [name for name in state if name not in params]
    if missing or unexpected:
        raise CheckpointError(
            path, f"the weights do not fit the model: missing {missing}, unexpected {unexpected}"
        )
    for name, param in params.items():
        value = state[name]
        if value.shape != param.shape:
            raise CheckpointError(
                path, f"shape mismatch for {name}: {value.shape} in the file, the model expects {param.shape}"
            )
        if value.dtype.kind != "f":
            raise CheckpointError(path, f"{name} holds {value.dtype}, not floating-point weights")
    model.load_state_dict(state)


def load_optimizer_state(optimizer, state: dict, path) -> None:
    """Restore `optimizer` from `state`, as a `CheckpointError` if it does not fit (another optimizer or model)."""
    try:
        optimizer.load_state_dict(state_from_arrays(state))
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(path, f"the optimizer state does not fit: {error}") from None


def generator_state(generator: np.random.Generator) -> dict:
    """The state of `generator` (its `bit_generator.state`, JSON-ready: Python ints of any size)."""
    return generator.bit_generator.state


def restore_generator(generator: np.random.Generator, state: dict, path) -> None:
    """Set `generator` to a state from `generator_state`; a state of another kind is a `CheckpointError`."""
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(path, f"cannot restore a random generator state: {error}") from None


# ----- reading, with a precise message for each way a file can be wrong


def _read_arrays(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(path, "no such file" if not path.exists() else "not a regular file")
    with open(path, "rb") as file:
        head = file.read(len(_ZIP_MAGIC))
    if len(head) == 0:
        raise CheckpointError(path, "the file is empty")
    if head != _ZIP_MAGIC:
        raise CheckpointError(path, "not a .npz archive (it does not start like a zip file)")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                except ValueError as error:
                    if "allow_pickle" in str(error):
                        raise CheckpointError(
                            path,
                            f"entry {key!r} is an object array, which would need pickle to load; refused",
                        ) from None
                    raise
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as error:
        raise CheckpointError(
            path, f"corrupt or truncated archive ({type(error).__name__}: {error})"
        ) from None
    return arrays


def _section(arrays: dict, section: str) -> dict:
    prefix = section + "/"
    return {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}


def _key_list(arrays: dict) -> str:
    keys = sorted(arrays)
    return ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "") if keys else "none"


def _text(array: np.ndarray) -> str | None:
    return str(array) if array.dtype.kind == "U" and array.ndim == 0 else None


def _json(path: Path, arrays: dict, key: str):
    text = _text(arrays[key])
    if text is None:
        raise CheckpointError(
            path,
            f"entry {key!r} should be JSON text (0-d unicode), got {arrays[key].dtype} {arrays[key].shape}",
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointError(path, f"entry {key!r} is not valid JSON: {error}") from None


def _scalar(path: Path, arrays: dict, key: str, kinds: str):
    array = arrays[key]
    if array.ndim != 0 or array.dtype.kind not in kinds:
        raise CheckpointError(
            path, f"entry {key!r} should be a scalar, got {array.dtype} of shape {array.shape}"
        )
    return array.item()


def _integer(path: Path, arrays: dict, key: str) -> int:
    return int(_scalar(path, arrays, key, "iu"))


def _json_array(value) -> np.ndarray:
    return np.asarray(json.dumps(value, allow_nan=False))
