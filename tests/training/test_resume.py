"""`--resume` continues a run exactly, and Ctrl-C stops one cleanly, through the real command line."""

from __future__ import annotations

import json

import numpy as np

from tensorgrad.cli import train as train_cli
from tensorgrad.optim import Adam
from tensorgrad.training import load_checkpoint, resume_run, train_run

from .helpers import SMALL_FLAGS, SMALL_STEPS_PER_EPOCH, assert_same_checkpoint, read_jsonl, without

FLAGS = [*SMALL_FLAGS, "--epochs", "4", "--seed", "3", "--l2", "1e-3", "--patience", "10"]


def interrupt_at_step(monkeypatch, step: int) -> None:
    """Make the `step`-th optimizer step (counted over the run) raise KeyboardInterrupt, as Ctrl-C would."""
    real_step = Adam.step
    calls = {"count": 0}

    def step_or_interrupt(self):
        calls["count"] += 1
        if calls["count"] == step:
            raise KeyboardInterrupt
        real_step(self)

    monkeypatch.setattr(Adam, "step", step_or_interrupt)


def test_ctrl_c_then_resume_gives_bit_for_bit_the_run_that_was_never_interrupted(
    tmp_path, monkeypatch, capsys
):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert train_cli.main([*FLAGS, "--out", str(straight)]) == 0

    with monkeypatch.context() as patch:
        interrupt_at_step(patch, 2 * SMALL_STEPS_PER_EPOCH + 5)  # in epoch 3
        assert train_cli.main([*FLAGS, "--out", str(interrupted)]) == 130
    output = capsys.readouterr().out
    assert "Interrupted in epoch 3" in output and f"--resume {interrupted}" in output
    # The last good checkpoint is whole and at the end of epoch 2; no temporary files are left behind.
    assert load_checkpoint(interrupted / "last.npz").epoch == 2
    assert not [p for p in interrupted.iterdir() if p.name.startswith(".")]
    assert len(read_jsonl(interrupted / "metrics.jsonl")) == 2
    assert not (interrupted / "results.json").exists()

    assert train_cli.main(["--resume", str(interrupted), "--no-progress"]) == 0
    assert "resuming" in capsys.readouterr().out
    for name in ("last.npz", "best.npz"):
        assert_same_checkpoint(straight / name, interrupted / name)
    rows = [
        [without(row, "seconds") for row in read_jsonl(run / "metrics.jsonl")]
        for run in (straight, interrupted)
    ]
    assert rows[0] == rows[1] and len(rows[0]) == 4
    results = [
        without(json.loads((run / "results.json").read_text()), "wall_seconds")
        for run in (straight, interrupted)
    ]
    assert results[0] == results[1]


def test_resume_from_epoch_0_and_of_a_finished_run(fashion, small_config, tmp_path):
    config = small_config(epochs=2)
    straight = train_run(config, tmp_path / "straight", dataset=fashion, log=lambda _: None)

    def interrupt_immediately(epoch, step):
        raise KeyboardInterrupt

    run_dir = tmp_path / "early"
    first = train_run(config, run_dir, dataset=fashion, log=lambda _: None, on_step=interrupt_immediately)
    assert first.status == "interrupted" and load_checkpoint(run_dir / "last.npz").epoch == 0
    resumed = resume_run(run_dir, dataset=fashion, log=lambda _: None)
    assert resumed.status == "finished"
    assert_same_checkpoint(tmp_path / "straight" / "last.npz", run_dir / "last.npz")
    # Resuming a finished run trains no further: it only writes the results again.
    lines = []
    again = resume_run(run_dir, dataset=fashion, log=lines.append)
    assert (
        "already finished" in lines[0] and again.results["test_accuracy"] == straight.results["test_accuracy"]
    )
    assert load_checkpoint(run_dir / "last.npz").epoch == 2


def test_a_metrics_line_written_after_the_last_checkpoint_is_dropped_on_resume(
    fashion, small_config, tmp_path
):
    run_dir = tmp_path / "run"

    def interrupt_in_epoch_2(epoch, step):
        if epoch == 2:
            raise KeyboardInterrupt

    train_run(
        small_config(epochs=2), run_dir, dataset=fashion, log=lambda _: None, on_step=interrupt_in_epoch_2
    )
    with open(run_dir / "metrics.jsonl", "a") as file:
        file.write('{"epoch": 2, "half written": tr')
    resume_run(run_dir, dataset=fashion, log=lambda _: None)
    assert [row["epoch"] for row in read_jsonl(run_dir / "metrics.jsonl")] == [1, 2]


def test_resume_refuses_a_folder_without_a_run_and_train_refuses_a_folder_with_one(
    finished_run, tmp_path, capsys
):
    assert train_cli.main(["--resume", str(tmp_path), "--no-progress"]) == 1
    assert "has no last.npz" in capsys.readouterr().err
    assert train_cli.main([*SMALL_FLAGS, "--out", str(finished_run)]) == 1
    assert "already holds a run" in capsys.readouterr().err


def test_resume_reports_a_corrupt_checkpoint(tmp_path, finished_run, capsys):
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    data = (finished_run / "last.npz").read_bytes()
    (run_dir / "last.npz").write_bytes(data[:1000])
    assert train_cli.main(["--resume", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert f"checkpoint {run_dir / 'last.npz'}: corrupt or truncated" in err


def test_last_checkpoint_carries_the_best_weights_for_resuming(fashion, small_config, tmp_path):
    run_dir = tmp_path / "run"

    def interrupt(epoch, step):
        if epoch == 2:
            raise KeyboardInterrupt

    train_run(small_config(epochs=3), run_dir, dataset=fashion, log=lambda _: None, on_step=interrupt)
    saved = load_checkpoint(run_dir / "last.npz")
    best = load_checkpoint(run_dir / "best.npz")
    for name, value in best.model_state.items():
        assert np.array_equal(saved.best_model_state[name], value)
