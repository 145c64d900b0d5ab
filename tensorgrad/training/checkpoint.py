"""Checkpoints as `.npz` archives: written atomically, read without pickle, checked key by key on load.

An archive holds only plain arrays (`np.load(..., allow_pickle=False)` reads it):

- ``format`` ("tensorgrad-checkpoint") and ``format_version``: what tells a checkpoint from any other `.npz`;
- ``model/<name>``: the model's state dict, buffers included (PyTorch's key names, e.g. ``model/0.weight``);
- ``optimizer/<name>``: the optimizer's state dict in PyTorch's layout, flattened by `optim.state_to_arrays`
  (``optimizer/state/0/exp_avg``, ``optimizer/param_groups/0/lr``, ...);
- ``ema/<name>``: the exponential moving average of the weights, when the run keeps one (in ``last.npz``;
  in ``best.npz`` the averaged weights are the ``model/`` entries, the model that was evaluated);
- ``best_model/<name>``: the best weights so far (in ``last.npz``, so that resuming needs no other file);
- ``epoch``: how many epochs are complete; ``best_metric``: the early-stopping metric's best value (NaN: none);
- ``config``, ``progress`` and ``rng/<name>``: JSON text in 0-d unicode arrays: the run's settings; the
  early-stopping counters and the metrics history; each random generator's ``bit_generator.state``.

Loading trusts nothing in the file. Entries other than these are never read. Each entry's `.npy` header is
read first and checked against the archive (its size), the config (the model's shapes and dtypes, from the
model registry: a config asking for a 3,000,000-wide layer is refused before anything is built) and a budget (`MAX_ARRAY_BYTES` in all,
`MAX_TEXT_BYTES` for each JSON entry), and only then is its data read, in chunks. Weights and optimizer
state must be finite.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from math import prod
from pathlib import Path

import numpy as np

from ..files import atomic_writer
from ..optim import state_from_arrays
from .builders import expected_state
from .config import TrainConfig
from .models import model_entry

FORMAT = "tensorgrad-checkpoint"
FORMAT_VERSION = 1
#: the most array data one checkpoint may hold (the default model's last.npz holds 2.7 MB)
MAX_ARRAY_BYTES = 1 << 30
#: the most text one JSON entry (config, progress, a generator state) may hold
MAX_TEXT_BYTES = 16 << 20
_ZIP_MAGIC = b"PK\x03\x04"
_REQUIRED = ("format_version", "config", "epoch", "best_metric", "progress")
_SINGLE_ENTRIES = ("format", *_REQUIRED)
_SECTIONS = ("model", "optimizer", "ema", "best_model", "rng")
#: the sections that hold a state dict of the model (checked against the shapes its config implies)
_MODEL_SECTIONS = ("model", "ema", "best_model")
#: dtype kinds a checkpoint holds: bool, integers, floats, and unicode (the JSON entries)
_KINDS = "biufU"
_CHUNK_SIZE = 1 << 20


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
    ema_state: dict | None = None


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
        "ema": checkpoint.ema_state or {},
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
    """Read and check a checkpoint; raises `CheckpointError` saying what is wrong with the file.

    The config must be a valid `TrainConfig` whose model the stored weights fit, shape for shape; weights
    and optimizer state must be finite. See the module docstring for the limits on what is read.
    """
    path = Path(path)
    _check_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _load(path, _Entries(path, archive))
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError,
            RuntimeError, struct.error) as error:  # fmt: skip
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method
        raise CheckpointError(
            path, f"corrupt or truncated archive ({type(error).__name__}: {error})"
        ) from None


def _load(path: Path, entries: _Entries) -> Checkpoint:
    if "format" not in entries.headers or _text(entries.read("format")) != FORMAT:
        raise CheckpointError(
            path,
            f"not a tensorgrad checkpoint: no 'format' entry saying {FORMAT!r} (keys: {_key_list(entries.names)})",
        )
    missing = [key for key in _REQUIRED if key not in entries.headers]
    if not entries.section("model"):
        missing.append("model/<parameter name>")
    if missing:
        raise CheckpointError(path, f"missing key(s) {', '.join(missing)}")
    version = _integer(path, entries, "format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path, f"format version {version} is newer than this tensorgrad reads ({FORMAT_VERSION})"
        )
    config = _json(path, entries, "config", dict)
    try:
        train_config = TrainConfig.from_dict(config)
    except (TypeError, ValueError, OverflowError) as error:
        raise CheckpointError(path, f"its config is not valid: {error}") from None
    # Shapes are checked on the headers alone, before any weight is read or any model built.
    expected = expected_state(train_config)
    for section in _MODEL_SECTIONS:
        if section == "model" or entries.section(section):
            _check_shapes(path, entries, section, expected, train_config)
    parameters = sum(prod(shape) for shape, _ in expected.values())
    for name in entries.section("optimizer"):
        shape = entries.headers[f"optimizer/{name}"][0]
        if prod(shape) > parameters:
            raise CheckpointError(
                path,
                f"optimizer/{name} holds {prod(shape)} values, more than the model's {parameters} parameters",
            )
    best_metric = _scalar(path, entries, "best_metric", "f")
    checkpoint = Checkpoint(
        config=config,
        model_state=_finite_section(path, entries, "model"),
        epoch=_integer(path, entries, "epoch"),
        optimizer_state=_finite_section(path, entries, "optimizer"),
        rng_states={name: _json(path, entries, f"rng/{name}", dict) for name in entries.section("rng")},
        best_metric=None if math.isnan(best_metric) else best_metric,
        progress=_json(path, entries, "progress", dict),
        best_model_state=_finite_section(path, entries, "best_model") or None,
        ema_state=_finite_section(path, entries, "ema") or None,
    )
    if checkpoint.epoch < 0:
        raise CheckpointError(path, f"entry 'epoch' is {checkpoint.epoch}, not a count of epochs")
    return checkpoint


def _check_shapes(path: Path, entries: _Entries, section: str, expected: dict, config: TrainConfig) -> None:
    stored = {name: entries.headers[f"{section}/{name}"] for name in entries.section(section)}
    missing = [name for name in expected if name not in stored]
    unexpected = [name for name in stored if name not in expected]
    described = model_entry(config.model).describe(config)
    if missing or unexpected:
        raise CheckpointError(
            path,
            f"the {section} weights do not fit its config ({described}): "
            f"missing {missing}, unexpected {unexpected}",
        )
    for name, (shape, kind) in expected.items():
        stored_shape, dtype = stored[name]
        if stored_shape != shape:
            raise CheckpointError(
                path, f"{section}/{name} has shape {stored_shape}, but its config ({described}) needs {shape}"
            )
        if kind == "f" and dtype.kind != "f":
            raise CheckpointError(path, f"{section}/{name} holds {dtype}, not floating-point weights")
        if kind == "i" and dtype.kind not in "iu":
            raise CheckpointError(path, f"{section}/{name} holds {dtype}, not an integer count")


def _finite_section(path: Path, entries: _Entries, section: str) -> dict:
    state = {}
    for name in entries.section(section):
        array = entries.read(f"{section}/{name}")
        if array.dtype.kind == "U":
            raise CheckpointError(path, f"{section}/{name} holds text, not numbers")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            raise CheckpointError(
                path, f"{section}/{name} holds {bad} NaN or infinite value(s) of {array.size}; refused"
            )
        state[name] = array
    return state


def load_model_state(model, state: dict, path) -> None:
    """Copy `state` (parameters and buffers) into `model`; a missing/unexpected key, a shape mismatch or a
    float where the model holds integers (or the other way round) is a `CheckpointError`."""
    own = model.state_dict()
    missing = [name for name in own if name not in state]
    unexpected = [name for name in state if name not in own]
    if missing or unexpected:
        raise CheckpointError(
            path, f"the weights do not fit the model: missing {missing}, unexpected {unexpected}"
        )
    for name, current in own.items():
        value = state[name]
        if value.shape != current.shape:
            raise CheckpointError(
                path,
                f"shape mismatch for {name}: {value.shape} in the file, the model expects {current.shape}",
            )
        if current.dtype.kind == "f" and value.dtype.kind != "f":
            raise CheckpointError(path, f"{name} holds {value.dtype}, not floating-point weights")
        if current.dtype.kind in "iu" and value.dtype.kind not in "iu":
            raise CheckpointError(path, f"{name} holds {value.dtype}, not an integer count")
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


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(path, "no such file" if not path.exists() else "not a regular file")
    with open(path, "rb") as file:
        head = file.read(len(_ZIP_MAGIC))
    if len(head) == 0:
        raise CheckpointError(path, "the file is empty")
    if head != _ZIP_MAGIC:
        raise CheckpointError(path, "not a .npz archive (it does not start like a zip file)")


def _known(key: str) -> bool:
    section, _, name = key.partition("/")
    return key in _SINGLE_ENTRIES or (section in _SECTIONS and bool(name))


class _Entries:
    """The known entries of an open `.npz` archive: their `.npy` headers, checked, and their data on demand."""

    def __init__(self, path: Path, archive: zipfile.ZipFile):
        self.path, self.archive = path, archive
        self.names = []  # every entry, for messages
        self.headers: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self._members: dict[str, tuple[zipfile.ZipInfo, int, bool]] = {}
        total = 0
        for info in archive.infolist():
            key = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
            self.names.append(key)
            if not _known(key) or not info.filename.endswith(".npy"):
                continue  # never read: an entry this format does not define could hold anything
            if key in self.headers:
                raise CheckpointError(path, f"entry {key!r} appears twice in the archive")
            shape, fortran, dtype, offset = self._header(key, info)
            nbytes = prod(shape) * dtype.itemsize
            if offset + nbytes != info.file_size:
                raise CheckpointError(
                    path,
                    f"entry {key!r}: its header declares {dtype} {shape} ({nbytes} bytes), but the "
                    f"archive holds {info.file_size - offset} bytes of data for it",
                )
            if dtype.kind == "U" and nbytes > MAX_TEXT_BYTES:
                raise CheckpointError(
                    path,
                    f"entry {key!r} holds {nbytes} bytes of text, more than the limit of {MAX_TEXT_BYTES}",
                )
            total += nbytes
            if total > MAX_ARRAY_BYTES:
                raise CheckpointError(
                    path, f"the arrays add up to more than the limit of {MAX_ARRAY_BYTES} bytes (at {key!r})"
                )
            self.headers[key] = (shape, dtype)
            self._members[key] = (info, offset, fortran)

    def _header(self, key: str, info: zipfile.ZipInfo):
        with self.archive.open(info) as file:
            try:
                version = np.lib.format.read_magic(file)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
                else:
                    raise ValueError(f".npy format version {version} is not one numpy.savez writes")
            # TokenError: NumPy's fallback parser for old headers tokenizes the text, and may fail so
            except (
                ValueError,
                TypeError,
                OverflowError,
                KeyError,
                SyntaxError,
                tokenize.TokenError,
            ) as error:
                raise CheckpointError(
                    self.path, f"entry {key!r} has no valid .npy header ({error})"
                ) from None
            offset = file.tell()
        if dtype.hasobject:
            raise CheckpointError(
                self.path, f"entry {key!r} is an object array, which would need pickle to load; refused"
            )
        if dtype.kind not in _KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise CheckpointError(
                self.path, f"entry {key!r} has dtype {dtype}, which a checkpoint never holds"
            )
        if any(size < 0 for size in shape):
            raise CheckpointError(self.path, f"entry {key!r} has a negative size in its shape {shape}")
        return shape, fortran, dtype, offset

    def section(self, section: str) -> list[str]:
        prefix = section + "/"
        return [key[len(prefix) :] for key in self.headers if key.startswith(prefix)]

    def read(self, key: str) -> np.ndarray:
        """The array of entry `key` (native byte order, writable)."""
        info, offset, fortran = self._members[key]
        shape, dtype = self.headers[key]
        nbytes = prod(shape) * dtype.itemsize
        data = bytearray()
        with self.archive.open(info) as file:
            file.read(offset)
            while len(data) < nbytes:
                chunk = file.read(min(_CHUNK_SIZE, nbytes - len(data)))
                if not chunk:
                    raise CheckpointError(self.path, f"entry {key!r} is truncated")
                data += chunk
            file.read()  # to the end of the member, so that zipfile checks its CRC-32
        array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        return array.astype(dtype.newbyteorder("="), copy=not dtype.isnative)


def _key_list(names: list[str]) -> str:
    keys = sorted(names)
    return ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "") if keys else "none"


def _text(array: np.ndarray) -> str | None:
    return str(array) if array.dtype.kind == "U" and array.ndim == 0 else None


def _json(path: Path, entries: _Entries, key: str, kind: type):
    array = entries.read(key)
    text = _text(array)
    if text is None:
        raise CheckpointError(
            path, f"entry {key!r} should be JSON text (0-d unicode), got {array.dtype} {array.shape}"
        )
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, too many digits, too deeply nested
        raise CheckpointError(path, f"entry {key!r} is not valid JSON: {error}") from None
    if not isinstance(value, kind):
        raise CheckpointError(
            path, f"entry {key!r} should hold a JSON {kind.__name__}, not {type(value).__name__}"
        )
    return value


def _scalar(path: Path, entries: _Entries, key: str, kinds: str):
    shape, dtype = entries.headers[key]
    if shape != () or dtype.kind not in kinds:
        raise CheckpointError(path, f"entry {key!r} should be a scalar, got {dtype} of shape {shape}")
    array = entries.read(key)
    if array.ndim != 0 or array.dtype.kind not in kinds:
        raise CheckpointError(
            path, f"entry {key!r} should be a scalar, got {array.dtype} of shape {array.shape}"
        )
    return array.item()


def _integer(path: Path, entries: _Entries, key: str) -> int:
    return int(_scalar(path, entries, key, "iu"))


def _json_array(value) -> np.ndarray:
    return np.asarray(json.dumps(value, allow_nan=False))
