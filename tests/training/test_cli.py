"""The command-line tools: flag checking, the run folder of `tensorgrad-train`, evaluate and predict."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from tensorgrad.cli import evaluate as evaluate_cli
from tensorgrad.cli import predict as predict_cli
from tensorgrad.cli import train as train_cli
from tensorgrad.data import FASHION_MNIST_CLASSES
from tensorgrad.training import PRESETS, TrainConfig, load_checkpoint, load_image, load_trained_model, predict
from tensorgrad.training.inference import looks_inverted
from tensorgrad.training.run import RUN_FILES

from .helpers import SMALL_FLAGS, read_jsonl


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--lr", "-0.1"], "--lr: must be > 0"),
        (["--lr", "0"], "--lr: must be > 0"),
        (["--lr", "fast"], "--lr: expected a number"),
        (["--keep-prob", "0"], r"--keep-prob: must be in \(0, 1\]"),
        (["--keep-prob", "1.5"], r"--keep-prob: must be in \(0, 1\]"),
        (["--batch-size", "0"], "--batch-size: must be >= 1"),
        (["--epochs", "2.5"], "--epochs: expected an integer"),
        (["--l2=-1e-4"], "--l2: must be >= 0"),
        (["--clip-grad-norm", "0"], "--clip-grad-norm: must be > 0"),
        (["--hidden", "196", "0"], "--hidden: must be >= 1"),
        (["--patience", "-1"], "--patience: must be >= 0"),
        (["--momentum", "1"], r"--momentum: must be in \[0, 1\)"),
        (["--optimizer", "rmsprop"], "--optimizer: invalid choice"),
        (["--activation", "sigmoid"], "--activation: invalid choice"),
        (["--on-nan", "ignore"], "--on-nan: invalid choice"),
        (["--preset", "mine"], "--preset: invalid choice"),
        (["--schedule", "linear"], "--schedule/--lr-schedule: invalid choice"),
        (["--warmup-epochs", "-1"], "--warmup-epochs: must be >= 0"),
        (["--standardize", "-0.1"], "--standardize: must be >= 0"),
        (["--model", "cnn", "--standardize", "0.1"], "--standardize is an option of --model mlp"),
        (["--input-gamma", "0"], "--input-gamma: must be > 0"),
        (
            ["--schedule", "onecycle", "--warmup-epochs", "2"],
            "warmup_epochs must be 0 with lr_schedule 'onecycle'",
        ),
        (["--warmup-epochs", "3", "--epochs", "3"], r"warmup_epochs must be >= 0 and less than epochs \(3\)"),
        (["--resume", "runs/x", "--lr", "0.1"], "--resume .* cannot take --lr"),
        (["--resume", "runs/x", "--out", "runs/y"], "--resume .* cannot take --out"),
    ],
)
def test_bad_flags_are_argparse_errors(flags, complaint, capsys):
    with pytest.raises(SystemExit) as info:
        train_cli.main(flags)
    assert info.value.code == 2
    assert re.search(complaint, capsys.readouterr().err)


def test_messages_name_each_setting_by_a_flag_that_gives_it():
    for action in train_cli.build_parser()._actions:
        if action.dest != "help" and action.option_strings:
            assert train_cli._flag(action.dest) in action.option_strings, action.dest


def test_a_preset_gives_its_settings_and_explicit_flags_override_it():
    paper = train_cli.config_from_flags({"preset": "paper"})
    assert paper == TrainConfig(**PRESETS["paper"])
    assert paper.lr_schedule == "constant" and paper.optimizer == "adam" and paper.hidden == (196, 64)
    tuned = train_cli.config_from_flags({"preset": "paper", "l2": 0.0, "seed": 4})
    assert tuned.l2 == 0.0 and tuned.seed == 4 and tuned.batch_size == paper.batch_size
    # The preset's lr is Adam's: another optimizer gets its own default unless --lr is given.
    assert train_cli.config_from_flags({"preset": "paper", "optimizer": "sgd"}).lr == 0.1
    assert train_cli.config_from_flags({"optimizer": "momentum", "lr": 0.05}).lr == 0.05
    assert train_cli.config_from_flags({"patience": 0}).patience is None


def test_help_spells_a_preset_as_the_flags_that_give_it():
    parser = train_cli.build_parser()
    for name, settings in PRESETS.items():
        spelled = [train_cli._as_flag(key, value) for key, value in settings.items()]
        (preset_help,) = [action.help for action in parser._actions if action.dest == "preset"]
        assert f"{name}: " + ", ".join(spelled) in preset_help
        flags = vars(parser.parse_args(" ".join(spelled).split()))
        assert train_cli.config_from_flags(flags) == train_cli.config_from_flags({"preset": name}), name


def test_schedule_flags_set_the_schedule_and_its_warmup():
    flags = vars(train_cli.build_parser().parse_args(["--schedule", "step", "--warmup-epochs", "3"]))
    config = train_cli.config_from_flags(
        {k: v for k, v in flags.items() if k not in ("out", "resume", "progress")}
    )
    assert (config.lr_schedule, config.warmup_epochs) == ("step", 3)
    old_spelling = vars(train_cli.build_parser().parse_args(["--lr-schedule", "onecycle"]))
    assert old_spelling["lr_schedule"] == "onecycle"
    assert train_cli.config_from_flags({}).lr_schedule == "cosine"


def test_standardize_flag_sets_the_floor_and_0_turns_it_off():
    assert train_cli.config_from_flags({}).standardize == 0.1
    assert train_cli.config_from_flags({"standardize": 0.3}).standardize == 0.3
    assert train_cli.config_from_flags({"standardize": 0.0}).standardize is None
    assert train_cli.config_from_flags({"preset": "paper"}).standardize is None  # the paper's plain pixels
    assert train_cli.config_from_flags({"model": "cnn"}).standardize is None
    paper, cnn = (
        train_cli.config_from_flags({"preset": "paper"}),
        train_cli.config_from_flags({"model": "cnn"}),
    )
    assert train_cli.config_from_flags({}).input_gamma == 0.5 and paper.input_gamma == cnn.input_gamma == 1.0
    assert train_cli.config_from_flags({"model": "cnn", "input_gamma": 0.5}).input_gamma == 0.5  # both models


def test_defaults_are_the_papers_architecture():
    config = train_cli.config_from_flags({})
    assert config.sizes == (784, 196, 64, 10)
    assert (config.activation, config.keep_prob, config.optimizer) == ("relu", 0.9, "adam")


def test_train_writes_every_file_of_the_run_folder(finished_run):
    assert sorted(p.name for p in finished_run.iterdir()) == sorted(RUN_FILES)
    config = json.loads((finished_run / "config.json").read_text())
    assert config["seed"] == 5 and config["hidden"] == [196, 64] and config["l2"] == 1e-4
    assert TrainConfig.from_dict(config).max_train_examples == 2000

    rows = read_jsonl(finished_run / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= rows[0].keys()

    results = json.loads((finished_run / "results.json").read_text())
    assert 0.5 < results["test_accuracy"] <= 1 and results["test_loss"] > 0
    assert results["epochs_run"] == 2 and results["best_epoch"] in (1, 2)
    assert results["stopped_early"] is False and results["wall_seconds"] > 0
    assert list(results["per_class_accuracy"]) == list(FASHION_MNIST_CLASSES)
    assert np.sum(results["confusion_matrix"]) == 10_000

    for name in ("curves.png", "confusion.png"):
        with Image.open(finished_run / name) as image:
            assert image.format == "PNG" and image.width > 300 and image.height > 300
            image.verify()
    svg = (finished_run / "graph.svg").read_text()
    assert "<svg" in svg and "0.weight" in svg and "cross_entropy" in svg and "l2_penalty" in svg

    best, last = load_checkpoint(finished_run / "best.npz"), load_checkpoint(finished_run / "last.npz")
    assert best.epoch == results["best_epoch"] and last.epoch == 2
    assert set(last.rng_states) == {"loader", "model", "augment"}


def test_evaluate_reproduces_the_test_accuracy_of_the_run(finished_run, capsys):
    results = json.loads((finished_run / "results.json").read_text())
    assert evaluate_cli.main([str(finished_run), "--json", "--no-download"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_accuracy"] == results["test_accuracy"]
    assert evaluated["per_class_accuracy"] == results["per_class_accuracy"]
    assert evaluated["epoch"] == results["best_epoch"]
    assert evaluate_cli.main([str(finished_run / "last.npz"), "--no-download"]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_evaluate_reports_a_bad_checkpoint_in_one_line(tmp_path, capsys):
    bogus = tmp_path / "bogus.npz"
    bogus.write_text("not a checkpoint")
    assert evaluate_cli.main([str(bogus)]) == 1
    err = capsys.readouterr().err
    assert f"checkpoint {bogus}: not a .npz archive" in err and "Traceback" not in err


def test_predict_gives_the_class_the_model_gives_the_array(finished_run, fashion, tmp_path, capsys):
    model, _, _, _ = load_trained_model(finished_run)
    images = fashion.test_images[:3]
    paths = []
    for index, image in enumerate(images):
        paths.append(tmp_path / f"test{index}.png")
        Image.fromarray(image).save(paths[-1])
    assert predict_cli.main([str(finished_run / "best.npz"), *map(str, paths)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for path, line, expected in zip(paths, lines, predict(model, images)):
        assert line == f"{path}: {expected.class_name} ({expected.probability:.1%})"
        np.testing.assert_array_equal(load_image(path), fashion.test_images[paths.index(path)])


def test_predict_resizes_converts_and_inverts(finished_run, fashion, tmp_path, capsys):
    image = fashion.test_images[0]
    big_rgb = Image.fromarray(image).resize((56, 56)).convert("RGB")
    big_rgb.save(tmp_path / "big.png")
    Image.fromarray(255 - image).save(tmp_path / "dark_on_light.png")
    assert load_image(tmp_path / "big.png").shape == (28, 28)
    np.testing.assert_array_equal(load_image(tmp_path / "dark_on_light.png", invert=True), image)

    assert predict_cli.main([str(finished_run), str(tmp_path / "big.png"), "--top", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{tmp_path / 'big.png'}: ") and line.count("%") == 3
    assert predict_cli.main([str(finished_run), str(tmp_path / "dark_on_light.png")]) == 0
    assert "--invert" in capsys.readouterr().err  # the light background is pointed out


def test_load_image_pads_a_non_square_image_with_its_edge_colour(tmp_path):
    tall = np.full((56, 28), 255, dtype=np.uint8)  # a dark item on a light background, twice as tall as wide
    tall[20:36, 8:20] = 0
    Image.fromarray(tall).save(tmp_path / "tall.png")
    image = load_image(tmp_path / "tall.png", invert=True)
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert image[:, :5].max() == 0 and image[:, -5:].max() == 0  # the padding is background, not a frame
    assert image[12, 14] > 200  # the item, now light on black
    assert looks_inverted(load_image(tmp_path / "tall.png")) and not looks_inverted(image)


def test_predict_reports_a_missing_or_unreadable_image(finished_run, tmp_path, capsys):
    (tmp_path / "text.png").write_text("not an image")
    assert predict_cli.main([str(finished_run), str(tmp_path / "missing.png")]) == 1
    assert "missing.png" in capsys.readouterr().err
    assert predict_cli.main([str(finished_run), str(tmp_path / "text.png")]) == 1
    assert "text.png" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow warnings on the way to inf
def test_a_huge_learning_rate_stops_with_a_message_naming_epoch_and_step(tmp_path, capsys):
    run_dir = tmp_path / "diverged"
    code = train_cli.main([*SMALL_FLAGS, "--optimizer", "sgd", "--lr", "1e9", "--out", str(run_dir)])
    output = capsys.readouterr().out
    assert code == 1
    assert re.search(r"Stopped: the (loss|gradient norm) is (nan|inf) at epoch 1, step \d+ of 20", output)
    assert not (run_dir / "best.npz").exists() and load_checkpoint(run_dir / "last.npz").epoch == 0
