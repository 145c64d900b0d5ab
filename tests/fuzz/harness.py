"""Fuzz the readers of hostile files: the IDX reader, the checkpoint loader and the image loader.

.venv/bin/python tests/fuzz/harness.py                          # every target, 3000 inputs each
.venv/bin/python tests/fuzz/harness.py --target image --examples 500 --seed 7

Each input is a valid file (several kinds per target) changed by a few mutations: bit flips, interesting
bytes and 32-bit integers (sizes, counts), insertions, deletions, truncation; and, knowing the format, inside
a gzip stream, a zip member, a `.npy` header, a checkpoint's config, or a PNG chunk with its checksum redone,
so that mutations get past the outer checksums. Hypothesis draws them and shrinks a failure to a small input.

Every input must end in the reader's result (checked: shapes, dtypes, finite values) or in the reader's own
documented exception (`IDXError`, `CheckpointError`, `ImageError`), within the process's address-space limit
(`--memory-mb`, set with `resource.setrlimit`) and a time limit per input (`--seconds`). Anything else is a
failure: the input is saved under `--failures` and the harness exits 1.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy: one thread, one small arena

import argparse
import collections
import gzip
import io
import json
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import HypothesisWarning  # noqa: E402

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF)
INTERESTING_U32 = (0, 1, 2, 3, 28, 255, 256, 784, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 10**9)


class InputTimeout(BaseException):
    """The time limit for one input ran out (a BaseException, so that no reader's `except` swallows it)."""


class Failure(AssertionError):
    """An input ended in something other than the result or the documented exception."""


# ----- mutations


@st.composite
def mutated_bytes(draw, base: bytes, max_mutations: int = 6) -> bytes:
    """`base` changed by one to `max_mutations` byte-level mutations."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, max_mutations))):
        op = draw(st.sampled_from(("flip", "byte", "u32", "insert", "delete", "truncate", "duplicate")))
        size = len(data)
        position = draw(st.integers(0, max(size - 1, 0)))
        if op == "flip" and size:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and size:
            data[position] = draw(st.sampled_from(INTERESTING_BYTES))
        elif op == "u32":
            value = draw(st.sampled_from(INTERESTING_U32)).to_bytes(
                4, draw(st.sampled_from(("big", "little")))
            )
            data[position : position + 4] = value
        elif op == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[position:]
        elif op == "duplicate":
            data[position:position] = data[position : position + draw(st.integers(1, 256))]
    return bytes(data)


# ----- targets: valid seeds, format-aware mutations, and the reader with its contract


def idx_seeds() -> list[bytes]:
    import struct

    def encode(array: np.ndarray) -> bytes:
        codes = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
        header = struct.pack(">BBBB", 0, 0, codes[array.dtype.str[1:]], array.ndim)
        return (
            header
            + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(array.dtype.newbyteorder(">")).tobytes()
        )

    rng = np.random.default_rng(0)
    return [
        encode(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)),
        encode(np.arange(10, dtype=np.uint8)),
        encode(rng.integers(-100, 100, (4, 5), dtype=np.int16)),
        encode(rng.standard_normal((2, 3, 4)).astype(np.float32)),
        encode(rng.standard_normal(6)),
        encode(rng.integers(-(2**20), 2**20, (2, 2, 2, 2), dtype=np.int32)),
    ]


@st.composite
def idx_inputs(draw, seeds: list[bytes]) -> bytes:
    raw = draw(st.sampled_from(seeds))
    where = draw(st.sampled_from(("raw", "inside-gzip", "gzip-bytes")))
    if where == "raw":
        return draw(mutated_bytes(raw))
    if where == "inside-gzip":
        return gzip.compress(draw(mutated_bytes(raw)), mtime=0)
    return draw(mutated_bytes(gzip.compress(raw, mtime=0)))


def check_idx(path: Path) -> str:
    from tensorgrad.data import IDXError, read_idx

    try:
        array = read_idx(path)
    except IDXError as error:
        return category(error)
    if not isinstance(array, np.ndarray) or array.dtype.byteorder not in "=|" or not array.flags.writeable:
        raise Failure(f"read_idx returned {type(array).__name__} {getattr(array, 'dtype', '')}")
    return "read"


def checkpoint_seeds() -> list[bytes]:
    from tensorgrad.optim import state_to_arrays
    from tensorgrad.training import Checkpoint, TrainConfig, build_model, save_checkpoint
    from tensorgrad.training.builders import build_optimizer
    from tensorgrad.training.checkpoint import generator_state

    seeds = []
    for hidden, optimizer in (((2,), "adam"), ((3, 2), "momentum"), ((2,), "sgd")):
        config = TrainConfig(hidden=hidden, optimizer=optimizer)
        rng = np.random.default_rng(0)
        model = build_model(config, rng)
        checkpoint = Checkpoint(
            config=config.to_dict(),
            model_state=model.state_dict(),
            epoch=2,
            optimizer_state=state_to_arrays(build_optimizer(config, model.parameters()).state_dict()),
            rng_states={"loader": generator_state(rng), "model": generator_state(model.rng)},
            best_metric=0.5,
            progress={
                "early_stopping": {"monitor": "val_loss", "best": 0.5, "best_epoch": 1, "bad_epochs": 1},
                "history": [{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.6}],
                "skipped_steps": 0,
                "stop_reason": None,
                "finished": False,
                "seconds": 1.0,
                "wall_seconds": 1.5,
            },
            best_model_state=model.state_dict(),
        )
        with tempfile.TemporaryDirectory() as scratch:
            save_checkpoint(Path(scratch) / "c.npz", checkpoint)
            seeds.append((Path(scratch) / "c.npz").read_bytes())
    return seeds


def config_values():
    """Values a hostile config might hold: huge and negative sizes, wrong types, deep nesting."""
    scalars = st.one_of(
        st.sampled_from([0, -1, 1, 2, 3, 784, 10**9, 2**63, 10**30, 1e308, float("inf"), float("nan"), True]),
        st.none(),
        st.text(max_size=8),
    )
    return st.one_of(
        scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=4), scalars, max_size=2)
    )


@st.composite
def checkpoint_inputs(draw, seeds: list[bytes]) -> bytes:
    base = draw(st.sampled_from(seeds))
    if draw(st.integers(0, 9)) == 0:  # the archive itself, bytes and all
        return draw(mutated_bytes(base))
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    names = sorted(members)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        how = draw(st.sampled_from(("header", "member", "config", "progress", "rename", "drop", "copy")))
        if how == "header":  # the .npy magic, header length and header text: the first 128 bytes
            head, rest = members[name][:128], members[name][128:]
            members[name] = draw(mutated_bytes(head, 3)) + rest
        elif how == "member":
            members[name] = draw(mutated_bytes(members[name], 3))
        elif how in ("config", "progress") and f"{how}.npy" in members:
            key = f"{how}.npy"
            try:
                value = json.loads(str(np.load(io.BytesIO(members[key]))))
            except ValueError:  # mutated already
                continue
            if isinstance(value, dict) and value:
                field = draw(st.sampled_from(sorted(value)))
                value[field] = draw(config_values())
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(json.dumps(value)))
            members[key] = buffer.getvalue()
        elif how == "rename":
            members[draw(st.sampled_from(["model/0.weight.npy", "optimizer/x.npy", "rng/x.npy", "x"]))] = (
                members.pop(name)
            )
        elif how == "drop":
            members.pop(name, None)
        elif how == "copy":
            members[f"best_model/{draw(st.sampled_from(['0.weight', '3.bias', 'z']))}.npy"] = members.get(
                name, b""
            )
        names = sorted(members) or ["format.npy"]
    buffer = io.BytesIO()
    compression = draw(st.sampled_from((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)))
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def check_checkpoint(path: Path) -> str:
    from tensorgrad.training import (
        CheckpointError,
        TrainConfig,
        build_model,
        load_checkpoint,
        load_trained_model,
    )
    from tensorgrad.training import predict as predict_images
    from tensorgrad.training.builders import build_optimizer, seed_generators
    from tensorgrad.training.ema import ModelEMA
    from tensorgrad.training.run import restore_session, run_generators

    try:
        model, _, _, _ = load_trained_model(path)  # the path of tensorgrad-predict and -evaluate
        checkpoint = load_checkpoint(path)  # and of --resume
        config = TrainConfig.from_dict(checkpoint.config)
        resumed = build_model(config, seed_generators(config.seed)["model"])
        optimizer = build_optimizer(config, resumed.parameters())
        generators = run_generators(np.random.default_rng(0), resumed, np.random.default_rng(1))
        ema = ModelEMA(resumed, config.ema_decay) if config.ema_decay is not None else None
        restore_session(checkpoint, path, config, resumed, optimizer, generators, ema)
    except CheckpointError as error:
        return category(error)
    (prediction,) = predict_images(model, np.zeros((1, 28, 28), np.uint8))
    if not np.isfinite(prediction.probabilities).all():
        raise Failure(f"a loaded checkpoint predicts non-finite probabilities {prediction.probabilities}")
    return "loaded"


def image_seeds() -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    images = [
        (Image.fromarray(gray), "PNG"),
        (Image.fromarray(rng.integers(0, 256, (9, 9, 4), dtype=np.uint8), "RGBA"), "PNG"),
        (Image.fromarray(gray).convert("P"), "GIF"),
        (Image.fromarray(gray.astype(np.uint16) * 257), "PNG"),
        (Image.fromarray(gray.astype(np.float32) / 255), "TIFF"),
        (Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)), "JPEG"),
        (Image.fromarray(gray).convert("1"), "BMP"),
        (Image.fromarray(rng.integers(0, 256, (6, 7, 2), dtype=np.uint8), "LA"), "PNG"),
    ]
    seeds = []
    for image, fmt in images:
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        seeds.append(buffer.getvalue())
    return seeds


@st.composite
def image_inputs(draw, seeds: list[bytes]) -> bytes:
    import struct
    import zlib

    base = draw(st.sampled_from(seeds))
    if not base.startswith(b"\x89PNG") or draw(st.booleans()):
        return draw(mutated_bytes(base))
    # Inside one PNG chunk, its CRC recomputed, so that Pillow reads on past the checksum.
    chunks, offset = [], 8
    while offset + 8 <= len(base):
        (length,) = struct.unpack(">I", base[offset : offset + 4])
        chunks.append((base[offset + 4 : offset + 8], base[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    index = draw(st.integers(0, len(chunks) - 1))
    kind, data = chunks[index]
    chunks[index] = (kind, draw(mutated_bytes(data, 3)))
    out = base[:8]
    for kind, data in chunks:
        out += struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return out


def check_image(path: Path) -> str:
    from tensorgrad.training import ImageError, read_image

    try:
        loaded = read_image(path, invert=False)
    except ImageError as error:
        return category(error)
    if loaded.pixels.shape != (28, 28) or loaded.pixels.dtype != np.uint8:
        raise Failure(f"read_image returned {loaded.pixels.dtype} {loaded.pixels.shape}")
    return "read"


TARGETS = {
    "idx": (idx_seeds, idx_inputs, check_idx, ".gz"),
    "checkpoint": (checkpoint_seeds, checkpoint_inputs, check_checkpoint, ".npz"),
    "image": (image_seeds, image_inputs, check_image, ".img"),
}


def _allocate_too_much(path: Path) -> str:
    np.ones(1 << 40, dtype=np.uint8)  # a terabyte: must hit the address-space limit
    return "allocated"


def _loop_forever(path: Path) -> str:
    while True:  # busy: the limit counts CPU time
        pass


#: targets that break the limits on purpose, to show the harness catches them
SELF_TESTS = {
    "selftest-memory": (lambda: [b"x"], lambda seeds: st.just(b"x"), _allocate_too_much, ".bin"),
    "selftest-time": (lambda: [b"x"], lambda seeds: st.just(b"x"), _loop_forever, ".bin"),
}


def category(error: BaseException) -> str:
    """An error's kind, for the report: its class and message without paths and numbers."""
    message = str(error).split(": ", 1)[-1] if not isinstance(error, Exception) else str(error)
    message = re.sub(r"\S*/\S*", "<path>", message)
    message = re.sub(r"\d+", "N", message)
    return f"{type(error).__name__}: {message[:70]}"


# ----- running under the limits


def run_target(name: str, examples: int, seconds: float, seed: int, failures: Path) -> dict:
    make_seeds, inputs, check, suffix = {**TARGETS, **SELF_TESTS}[name]
    seeds = make_seeds()
    outcomes: collections.Counter = collections.Counter()
    slowest = [0.0]
    scratch = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    path = scratch / f"input{suffix}"

    def on_alarm(signum, frame):
        raise InputTimeout

    # CPU time, not wall time: on a busy machine an input may wait for a core, which is not its own cost
    signal.signal(signal.SIGPROF, on_alarm)

    def run_one(data: bytes) -> None:
        path.write_bytes(data)
        started = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            outcome = check(path)
        except InputTimeout:
            raise Failure(f"took longer than {seconds} s") from None
        except MemoryError:
            raise Failure("ran out of memory: went past the address-space limit") from None
        except Failure:
            raise
        except BaseException as error:
            raise Failure(f"ended in {type(error).__name__}: {error}") from error
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        slowest[0] = max(slowest[0], time.process_time() - started)
        outcomes[outcome] += 1

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(inputs(seeds))
    def fuzz(data: bytes) -> None:
        run_one(data)

    report = {"target": name, "failure": None}
    try:
        fuzz()
    except Failure as failure:
        data = path.read_bytes()  # the last input run is the shrunk failing one
        failures.mkdir(parents=True, exist_ok=True)
        saved = failures / f"{name}-{abs(hash(data)) % 10**8:08d}{suffix}"
        saved.write_bytes(data)
        report["failure"] = f"{failure} (input: {len(data)} bytes, saved as {saved})"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.update(inputs=sum(outcomes.values()), outcomes=outcomes, slowest=slowest[0])
    return report


def print_report(report: dict, out=sys.stdout) -> None:
    print(
        f"{report['target']}: {report['inputs']} inputs, slowest {report['slowest'] * 1000:.0f} ms", file=out
    )
    for outcome, count in report["outcomes"].most_common(12):
        print(f"  {count:6d}  {outcome}", file=out)
    if len(report["outcomes"]) > 12:
        print(f"  ... {len(report['outcomes']) - 12} more kinds", file=out)
    if report["failure"]:
        print(f"  FAILED: {report['failure']}", file=out)


def main(argv=None) -> int:
    """Fuzz the chosen targets under the limits; returns 0 if every input kept the contract, else 1."""
    parser = argparse.ArgumentParser(prog="harness.py", description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=[*TARGETS, *SELF_TESTS, "all"], nargs="+", default=["all"])
    parser.add_argument("--examples", type=int, default=3000, help="inputs per target (default: 3000)")
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU-time limit per input (default: 2)")
    parser.add_argument("--memory-mb", type=int, default=768, help="address-space limit (default: 768 MiB)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis's seed (default: 0)")
    parser.add_argument(
        "--failures", type=Path, default=Path("fuzz-failures"), help="where failing inputs go"
    )
    args = parser.parse_args(argv)
    targets = list(TARGETS) if "all" in args.target else args.target

    warnings.simplefilter("ignore", HypothesisWarning)  # "overly large repr" of a failing input: it is saved
    limit = args.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    failed = False
    for name in targets:
        report = run_target(name, args.examples, args.seconds, args.seed, args.failures)
        print_report(report)
        failed |= report["failure"] is not None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak resident memory {peak} MiB (limit on the address space: {args.memory_mb} MiB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
