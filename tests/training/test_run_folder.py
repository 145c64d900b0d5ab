"""The run folder: new or empty, one process at a time, and what every failure and every Ctrl-C leaves in it."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorgrad.data.fashion_mnist as fashion_mnist
from tensorgrad.cli import train as train_cli
from tensorgrad.files import LOCK_FILE, FolderLockedError, folder_lock
from tensorgrad.training import load_checkpoint, resume_run, train_run
from tensorgrad.training import run as run_module
from tensorgrad.training.run import RUN_FILES

from .helpers import SMALL_FLAGS, copy_run, folder_snapshot, read_only

ONE_EPOCH = [*SMALL_FLAGS, "--epochs", "1"]


def one_line_error(err: str, prog: str = "tensorgrad-train") -> str:
    """The error line of a command's stderr, checked to be the only thing there (no traceback)."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    return lines[0]


# ----- item 1: a run folder must be new or empty


def test_a_folder_holding_other_files_is_refused_and_left_as_it_was(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, text in {"config.json": '{"mine": 1}', "results.json": "[]", "metrics.jsonl": "x\n"}.items():
        (folder / name).write_text(text)
    before = folder_snapshot(folder)
    assert train_cli.main([*ONE_EPOCH, "--out", str(folder)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert f"{folder} is not empty (it holds config.json, metrics.jsonl, results.json)" in line
    assert "new or empty folder" in line
    assert folder_snapshot(folder) == before and sorted(p.name for p in folder.iterdir()) == sorted(before)


def test_an_empty_out_is_a_flag_error(capsys):
    with pytest.raises(SystemExit) as info:
        train_cli.main([*ONE_EPOCH, "--out", ""])
    assert info.value.code == 2
    assert "--out: must name a folder, got an empty name" in capsys.readouterr().err


def test_an_empty_existing_folder_is_a_fine_run_folder(fashion, small_config, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    outcome = train_run(small_config(epochs=1), folder, dataset=fashion, log=lambda _: None)
    assert outcome.exit_code == 0 and sorted(p.name for p in folder.iterdir()) == sorted(RUN_FILES)


def test_out_naming_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert train_cli.main([*ONE_EPOCH, "--out", str(tmp_path / "notes.txt")]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in line
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ----- item 3: one process at a time


def hold_lock_in_another_process(folder):
    """A process that holds the lock of `folder` until it is killed; returns it once it holds the lock."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from tensorgrad.files import folder_lock
        with folder_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_resume_refuses_a_folder_another_process_is_training_in(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    before = folder_snapshot(run_dir)
    holder = hold_lock_in_another_process(run_dir)
    try:
        assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 1
        line = one_line_error(capsys.readouterr().err)
        assert f"{run_dir} is in use by process {holder.pid}" in line
        assert {k: v for k, v in folder_snapshot(run_dir).items() if k != LOCK_FILE} == before
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_process_is_stale_and_taken_over(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    holder = hold_lock_in_another_process(run_dir)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (run_dir / LOCK_FILE).read_text().strip() == str(holder.pid)  # left behind by the killed process
    assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 0
    assert "already finished" in capsys.readouterr().out
    assert not (run_dir / LOCK_FILE).exists()


def test_a_folder_lock_excludes_a_second_holder_and_is_removed_after(tmp_path):
    with folder_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
        with (
            pytest.raises(FolderLockedError, match=f"in use by process {os.getpid()}"),
            folder_lock(tmp_path),
        ):
            pass
    assert not (tmp_path / LOCK_FILE).exists()
    with folder_lock(tmp_path):  # free again
        pass


# ----- item 7: read-only folders and full disks, in one line


def test_a_read_only_out_is_one_line(tmp_path, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    with read_only(folder):
        assert train_cli.main([*ONE_EPOCH, "--out", str(folder)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert f"cannot use {folder}: {folder / LOCK_FILE}: " in line
    assert ("Permission denied" in line) or ("Operation not permitted" in line)
    assert list(folder.iterdir()) == []


def test_a_read_only_folder_under_resume_is_one_line_and_unchanged(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    before = folder_snapshot(run_dir)
    with read_only(run_dir):
        assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 1
    assert f"cannot use {run_dir}" in one_line_error(capsys.readouterr().err)
    assert folder_snapshot(run_dir) == before


def test_a_full_disk_mid_run_is_one_line_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    real_savez, calls = np.savez, {"count": 0}

    def savez_until_the_disk_is_full(file, **arrays):
        calls["count"] += 1
        if (
            calls["count"] == 4
        ):  # epoch 0's last.npz, epoch 1's best.npz and last.npz, then epoch 2's best.npz
            file.write(b"PK\x03\x04 part of an archive")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_savez(file, **arrays)

    monkeypatch.setattr(np, "savez", savez_until_the_disk_is_full)
    assert train_cli.main([*SMALL_FLAGS, "--epochs", "3", "--out", str(run_dir)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert f"{run_dir / 'best.npz'}: No space left on device; {run_dir / 'last.npz'} holds epoch 1" in line
    assert f"resume with --resume {run_dir}" in line
    assert load_checkpoint(run_dir / "last.npz").epoch == 1
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")]  # no temporaries, no lock


# ----- item 9: Ctrl-C in every phase says what was kept; stale temporaries go on resume


def test_ctrl_c_while_loading_a_new_run_keeps_nothing_and_says_so(tmp_path, monkeypatch, capsys):
    def interrupted_read(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(fashion_mnist, "read_decompressed", interrupted_read)
    run_dir = tmp_path / "run"
    assert train_cli.main([*ONE_EPOCH, "--out", str(run_dir)]) == 130
    out = capsys.readouterr().out
    assert "Interrupted while loading, before training began: nothing was kept, nothing to resume" in out
    assert "--resume" not in out
    assert not run_dir.exists()


def test_ctrl_c_while_loading_a_resumed_run_leaves_it_resumable(finished_run, tmp_path, monkeypatch, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    before = folder_snapshot(run_dir)

    def interrupted_read(path):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(fashion_mnist, "read_decompressed", interrupted_read)
        assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 130
    out = capsys.readouterr().out
    assert f"Interrupted while loading; {run_dir} is unchanged." in out
    assert f"Resume with: tensorgrad-train --resume {run_dir}" in out
    assert folder_snapshot(run_dir) == before
    assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 0


def test_ctrl_c_while_writing_the_results_says_how_to_write_them(
    fashion, small_config, tmp_path, monkeypatch
):
    run_dir, lines = tmp_path / "run", []

    def interrupted_plot(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "plot_confusion", interrupted_plot)
        outcome = train_run(small_config(epochs=1), run_dir, dataset=fashion, log=lines.append)
    assert outcome.exit_code == 130
    assert "Interrupted while writing the results; training is complete" in lines[-1]
    assert f"Write the results with: tensorgrad-train --resume {run_dir}" in lines[-1]
    assert not (run_dir / "confusion.png").exists()
    assert resume_run(run_dir, dataset=fashion, log=lambda _: None).exit_code == 0
    assert (run_dir / "confusion.png").exists() and (run_dir / "results.json").exists()


def test_resume_removes_the_temporaries_a_killed_process_left(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path / "run")
    (run_dir / ".last.npz.k1ll3d.tmp").write_bytes(b"PK\x03\x04 half")
    (run_dir / ".results.json.zz9.tmp").write_bytes(b"{")
    (run_dir / ".mine.tmp").write_bytes(b"not ours")  # not a temporary of a run file: kept
    lines = []
    assert resume_run(run_dir, log=lines.append).exit_code == 0
    assert "removed 2 temporary file(s) left by an earlier, killed process" in lines[0]
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == [".mine.tmp"]
