"""Checkpoints: round trip, atomic writes, and a clear `CheckpointError` for every kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest

from tensorgrad.optim import state_to_arrays
from tensorgrad.training import (
    Checkpoint,
    CheckpointError,
    TrainConfig,
    build_model,
    load_checkpoint,
    save_checkpoint,
)
from tensorgrad.training.builders import build_optimizer
from tensorgrad.training.checkpoint import generator_state, load_model_state, restore_generator


def make_checkpoint(seed: int = 0, hidden=(8, 4)) -> Checkpoint:
    config = TrainConfig(hidden=hidden, seed=seed)
    rng = np.random.default_rng(seed)
    model = build_model(config, rng)
    optimizer = build_optimizer(config, model.parameters())
    rng.random(5)  # move the generator on, so its state is not the seed's
    return Checkpoint(
        config=config.to_dict(),
        model_state=model.state_dict(),
        epoch=3,
        optimizer_state=state_to_arrays(optimizer.state_dict()),
        rng_states={
            "loader": generator_state(rng),
            "model": generator_state(np.random.default_rng(seed + 1)),
        },
        best_metric=0.25,
        progress={"history": [{"epoch": 1, "val_loss": 0.5}], "finished": False},
        best_model_state={name: value + 1 for name, value in model.state_dict().items()},
    )


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "checkpoint.npz"
    checkpoint = make_checkpoint()
    save_checkpoint(path, checkpoint)
    return path, checkpoint


def test_round_trip_keeps_every_field(saved):
    path, original = saved
    loaded = load_checkpoint(path)
    assert loaded.config == original.config
    assert loaded.epoch == 3 and loaded.best_metric == 0.25
    assert loaded.progress == original.progress
    assert loaded.rng_states == original.rng_states
    for name in ("model_state", "optimizer_state", "best_model_state"):
        got, want = getattr(loaded, name), getattr(original, name)
        assert got.keys() == want.keys()
        for key in want:
            assert np.array_equal(got[key], want[key]) and got[key].dtype == np.asarray(want[key]).dtype, key


def test_a_restored_generator_continues_with_the_same_draws(tmp_path):
    rng = np.random.default_rng(123)
    rng.random(7)
    checkpoint = make_checkpoint()
    checkpoint.rng_states = {"loader": generator_state(rng)}
    save_checkpoint(tmp_path / "c.npz", checkpoint)
    expected = rng.permutation(100)
    fresh = np.random.default_rng(0)
    restore_generator(fresh, load_checkpoint(tmp_path / "c.npz").rng_states["loader"], tmp_path / "c.npz")
    np.testing.assert_array_equal(fresh.permutation(100), expected)


def test_no_best_metric_round_trips_as_none(tmp_path):
    checkpoint = make_checkpoint()
    checkpoint.best_metric, checkpoint.best_model_state = None, None
    save_checkpoint(tmp_path / "c.npz", checkpoint)
    loaded = load_checkpoint(tmp_path / "c.npz")
    assert loaded.best_metric is None and loaded.best_model_state is None


@pytest.mark.parametrize("failure", [OSError("No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_previous_file_intact_and_no_temporary_file(saved, monkeypatch, failure):
    path, original = saved
    before = path.read_bytes()

    def write_half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise failure

    monkeypatch.setattr(np, "savez", write_half_then_fail)
    with pytest.raises(type(failure)):
        save_checkpoint(path, make_checkpoint(seed=1))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert load_checkpoint(path).epoch == original.epoch


def test_truncated_file(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_corrupted_bytes_are_caught_by_the_zip_checksums(saved):
    path, _ = saved
    data = bytearray(path.read_bytes())
    start = data.index(b"model/0.weight.npy") + 300  # past the member's headers, inside the weights
    data[start : start + 16] = bytes(b ^ 0xFF for b in data[start : start + 16])
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt or truncated") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not the weights you are looking for")
    with pytest.raises(CheckpointError, match=r"not a \.npz archive") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_an_empty_file_and_a_missing_file(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(tmp_path / "empty.npz")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.npz")


def test_a_foreign_npz_is_named_as_such(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.zeros(3), labels=np.arange(3))
    with pytest.raises(CheckpointError, match=r"not a tensorgrad checkpoint.*labels, weights"):
        load_checkpoint(path)


def test_a_missing_key_is_named(saved, tmp_path):
    path, _ = saved
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files if key != "epoch"}
    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, **arrays)
    with pytest.raises(CheckpointError, match=r"missing key.*epoch"):
        load_checkpoint(damaged)


def test_an_object_array_is_refused_without_unpickling_it(saved, tmp_path):
    path, _ = saved
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["model/0.weight"] = np.array([{"payload": "would run code when unpickled"}], dtype=object)
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **arrays)  # numpy pickles the object array into the archive
    with pytest.raises(CheckpointError, match=r"'model/0.weight' is an object array.*pickle"):
        load_checkpoint(crafted)


def test_saving_an_object_array_is_refused(tmp_path):
    checkpoint = make_checkpoint()
    checkpoint.model_state["0.weight"] = np.array([None], dtype=object)
    with pytest.raises(TypeError, match="object array"):
        save_checkpoint(tmp_path / "c.npz", checkpoint)
    assert not list(tmp_path.iterdir())


def test_weights_of_another_architecture_give_a_shape_mismatch_naming_the_parameter(saved):
    path, _ = saved
    other = build_model(TrainConfig(hidden=(9, 4)), rng=0)
    with pytest.raises(
        CheckpointError, match=r"shape mismatch for 0.weight: \(8, 784\) in the file.*\(9, 784\)"
    ):
        load_model_state(other, load_checkpoint(path).model_state, path)


def test_weights_with_missing_layers_are_refused(saved):
    path, _ = saved
    deeper = build_model(TrainConfig(hidden=(8, 4, 4)), rng=0)
    with pytest.raises(CheckpointError, match="do not fit the model: missing"):
        load_model_state(deeper, load_checkpoint(path).model_state, path)
