"""Crafted checkpoints: shapes checked against the config before anything is built, entries this format does
not define never read, what is read bounded, non-finite weights refused, and every refusal one line."""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from tensorgrad.cli import predict as predict_cli
from tensorgrad.cli import train as train_cli
from tensorgrad.training import (
    CheckpointError,
    TrainConfig,
    build_model,
    inference,
    load_checkpoint,
    load_trained_model,
)
from tensorgrad.training import checkpoint as ckpt
from tensorgrad.training.builders import expected_state_shapes
from tensorgrad.training.ema import ModelEMA
from tensorgrad.training.run import restore_ema_updates

from .helpers import copy_run, folder_snapshot
from .test_checkpoint import make_checkpoint


def archive_entries(path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def with_config(arrays: dict, **changes) -> dict:
    config = json.loads(str(arrays["config"]))
    config.update(changes)
    return {**arrays, "config": np.asarray(json.dumps(config))}


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "checkpoint.npz"
    ckpt.save_checkpoint(path, make_checkpoint())  # hidden (8, 4)
    return path


@pytest.mark.parametrize(
    "hidden", [[8, 4], [3, 4], [8, 4, 4], [196, 64], [10, 10, 10, 10]], ids=lambda h: "-".join(map(str, h))
)
def test_expected_shapes_are_those_of_the_model_built(hidden):
    config = TrainConfig(hidden=hidden)
    built = {name: value.shape for name, value in build_model(config, rng=0).state_dict().items()}
    assert expected_state_shapes(config) == built


@pytest.mark.parametrize("width", [3_000_000, 10**9])
def test_a_config_asking_for_a_huge_layer_is_refused_before_a_model_is_built(
    saved, tmp_path, monkeypatch, width
):
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **with_config(archive_entries(saved), hidden=[width, 4]))

    def no_building(*args, **kwargs):
        raise AssertionError("a model was built for a checkpoint that does not fit its config")

    monkeypatch.setattr(inference, "build_model", no_building)
    with pytest.raises(CheckpointError) as info:
        load_trained_model(crafted)
    assert str(info.value) == (
        f"checkpoint {crafted}: model/0.weight has shape (8, 784), but its config (hidden [{width}, 4]) "
        f"needs ({width}, 784)"
    )


def test_predict_on_a_checkpoint_with_a_huge_config_is_one_line(saved, tmp_path, capsys):
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **with_config(archive_entries(saved), hidden=[10**9, 4]))
    image = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    assert predict_cli.main([str(crafted), str(image)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "model/0.weight has shape (8, 784), but its config (hidden [1000000000, 4]) needs" in err


def write_entry_in_chunks(archive: zipfile.ZipFile, name: str, dtype: str, count: int) -> None:
    """A zero-filled .npy entry of `count` values, written through a deflating stream (a small file)."""
    with archive.open(name + ".npy", "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(
            member, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (count,)}
        )
        chunk = bytes(1 << 20)
        remaining = count * np.dtype(dtype).itemsize
        while remaining:
            member.write(chunk[: min(remaining, len(chunk))])
            remaining -= min(remaining, len(chunk))


def peak_memory_of(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_entry_the_format_does_not_define_is_never_read(saved, tmp_path):
    crafted = tmp_path / "padded.npz"
    crafted.write_bytes(saved.read_bytes())
    with zipfile.ZipFile(crafted, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        write_entry_in_chunks(archive, "padding", "<f4", 64 << 20)  # 256 MB of zeros in a file of 250 KB
    assert crafted.stat().st_size < 2 << 20
    loaded = {}
    peak = peak_memory_of(lambda: loaded.update(checkpoint=load_checkpoint(crafted)))
    assert peak < 16 << 20
    assert loaded["checkpoint"].epoch == 3


def test_an_optimizer_entry_larger_than_the_model_is_refused_unread(saved, tmp_path):
    crafted = tmp_path / "padded.npz"
    crafted.write_bytes(saved.read_bytes())
    with zipfile.ZipFile(crafted, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        write_entry_in_chunks(archive, "optimizer/extra", "<f4", 64 << 20)

    def load():
        with pytest.raises(
            CheckpointError, match=r"optimizer/extra holds 67108864 values, more than the model's"
        ):
            load_checkpoint(crafted)

    assert peak_memory_of(load) < 16 << 20


def test_arrays_beyond_the_budget_are_refused(saved, monkeypatch):
    monkeypatch.setattr(ckpt, "MAX_ARRAY_BYTES", 10_000)
    with pytest.raises(CheckpointError, match="the arrays add up to more than the limit of 10000 bytes"):
        load_checkpoint(saved)


def test_a_header_that_disagrees_with_the_archive_is_refused(saved, tmp_path):
    entries = archive_entries(saved)
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **entries)
    data = bytearray(crafted.read_bytes())
    header = data.index(b"'shape': (8, 784)")  # the first one is model/0.weight's
    data[header : header + len(b"'shape': (8, 784)")] = b"'shape': (9, 784)"
    crafted.write_bytes(bytes(data))
    with pytest.raises(
        CheckpointError, match=r"header declares float32 \(9, 784\) \(28224 bytes\), but the archive"
    ):
        load_checkpoint(crafted)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("section", ["model", "best_model", "optimizer"])
def test_non_finite_weights_are_refused(saved, tmp_path, bad, section):
    entries = archive_entries(saved)
    key = f"{section}/param_groups/0/betas" if section == "optimizer" else f"{section}/3.bias"
    entries[key] = entries[key].copy()
    entries[key][1] = bad
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **entries)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(crafted)
    assert str(info.value) == (
        f"checkpoint {crafted}: {key} holds 1 NaN or infinite value(s) of {entries[key].size}; refused"
    )


def test_predict_refuses_nan_weights_instead_of_printing_nan_percent(finished_run, tmp_path, capsys):
    entries = archive_entries(finished_run / "best.npz")
    entries["model/6.weight"] = np.full_like(entries["model/6.weight"], np.nan)
    crafted = tmp_path / "nan.npz"
    np.savez(crafted, **entries)
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "x.png")
    assert predict_cli.main([str(crafted), str(tmp_path / "x.png")]) == 1
    captured = capsys.readouterr()
    assert "nan%" not in captured.out
    assert (
        f"checkpoint {crafted}: model/6.weight holds 640 NaN or infinite value(s) of 640; refused"
        in captured.err
    )


@pytest.mark.parametrize(
    ("config_text", "complaint"),
    [
        ("[" * 100_000, "is not valid JSON"),  # nested past the recursion limit
        ('{"hidden": [1' + "0" * 5000 + "]}", "is not valid JSON"),  # an integer too long to parse
        ("[1, 2]", "should hold a JSON dict, not list"),
        ('{"hidden": [Infinity]}', "its config is not valid"),
        ('{"hidden": "wide"}', "its config is not valid"),
        ('{"keep_prob": null}', "its config is not valid"),
    ],
)
def test_a_hostile_config_is_a_checkpoint_error(saved, tmp_path, config_text, complaint):
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **{**archive_entries(saved), "config": np.asarray(config_text)})
    with pytest.raises(CheckpointError, match=complaint):
        load_checkpoint(crafted)


def test_resume_with_best_weights_of_another_shape_is_a_checkpoint_error(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    entries = archive_entries(run_dir / "last.npz")
    entries["best_model/3.weight"] = np.zeros((64, 195), np.float32)
    np.savez(run_dir / "last.npz", **entries)
    before = folder_snapshot(run_dir)
    assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip() == (
        f"tensorgrad-train: error: checkpoint {run_dir / 'last.npz'}: best_model/3.weight has shape (64, 195), "
        "but its config (hidden [196, 64]) needs (64, 196)"
    )
    assert folder_snapshot(run_dir) == before


@pytest.mark.parametrize("updates", [-1, "many", True, 1.5, 1 << 70])
def test_resume_with_a_hostile_count_of_averaged_updates_is_a_checkpoint_error(
    finished_run, tmp_path, capsys, updates
):
    run_dir = copy_run(finished_run, tmp_path / "run")
    entries = archive_entries(run_dir / "last.npz")
    progress = json.loads(str(entries["progress"]))
    assert isinstance(progress["ema_updates"], int)  # the defaults average the weights
    entries["progress"] = np.asarray(json.dumps({**progress, "ema_updates": updates}))
    np.savez(run_dir / "last.npz", **entries)
    before = folder_snapshot(run_dir)
    assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        f"tensorgrad-train: error: checkpoint {run_dir / 'last.npz'}: its ema_updates must be a count of "
        f"updates, not {updates!r}"
    )
    assert folder_snapshot(run_dir) == before


def test_a_checkpoint_from_before_the_averages_warm_up_resumes_without_one(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path / "run")
    entries = archive_entries(run_dir / "last.npz")
    progress = json.loads(str(entries["progress"]))
    del progress["ema_updates"]
    entries["progress"] = np.asarray(json.dumps(progress))
    np.savez(run_dir / "last.npz", **entries)
    checkpoint = load_checkpoint(run_dir / "last.npz")
    ema = ModelEMA(build_model(TrainConfig.from_dict(checkpoint.config), rng=0), decay=0.999)
    restore_ema_updates(ema, checkpoint.progress, run_dir / "last.npz")
    assert not ema.warmup and ema.current_decay() == 0.999
