"""The training layer trains any model: the registry, image-shaped batches, buffers in checkpoints, train and
eval mode, a loss argument, label smoothing, an average of the weights, augmentation, through --resume,
evaluate and predict."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import numpy as np
import pytest
from PIL import Image

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import parallel
from tensorgrad.cli import evaluate as evaluate_cli
from tensorgrad.cli import predict as predict_cli
from tensorgrad.cli import train as train_cli
from tensorgrad.data import DataLoader
from tensorgrad.training import (
    DEFAULT_LR,
    MODELS,
    PRESETS,
    CheckpointError,
    ModelEMA,
    TrainConfig,
    build_model,
    config_for,
    evaluate,
    evaluate_checkpoint,
    fit,
    l2_weights,
    load_checkpoint,
    load_trained_model,
    training_loss,
)
from tensorgrad.training import checkpoint as ckpt
from tensorgrad.training.builders import expected_state
from tensorgrad.training.models import kernel_threads
from tensorgrad.training.run import as_images

from . import image_model
from .helpers import SMALL_FLAGS, SMALL_STEPS_PER_EPOCH, assert_same_checkpoint, read_jsonl, without
from .test_resume import interrupt_at_step

PROBE = ["--model", image_model.NAME]


@pytest.fixture(autouse=True)
def probe_registered():
    with image_model.registered():
        yield


def built_state(config) -> dict:
    model = build_model(config, rng=0)
    return {
        name: (value.shape, "f" if value.dtype.kind == "f" else "i")
        for name, value in model.state_dict().items()
    }


@pytest.mark.parametrize(
    "settings",
    [{}, {"hidden": (3, 5, 7)}, {"model": image_model.NAME}],
    ids=["mlp", "mlp-deeper", "probe"],
)
def test_the_state_a_config_implies_is_that_of_the_model_built(settings):
    config = TrainConfig(**settings)
    assert expected_state(config) == built_state(config)


def test_cnn_is_registered_and_built_lazily_or_refused_in_one_line():
    config = TrainConfig(model="cnn", cnn={"channels": [4, 8], "hidden": 16, "dropout": 0.25})
    if importlib.util.find_spec("tensorgrad.models.cnn") is None:
        with pytest.raises(tg.training.ModelUnavailableError) as info:
            build_model(config, rng=0)
        assert str(info.value) == (
            "model 'cnn' needs the module tensorgrad.models.cnn, which this installation of tensorgrad "
            "does not have"
        )
    else:  # the convnet is installed: its checkpoints are checked against the state its config implies
        assert expected_state(config) == built_state(config)


def test_train_with_a_model_that_is_not_installed_is_one_line_and_leaves_nothing(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(
        tg.training.MODELS,
        "missing",
        tg.training.ModelEntry(
            build=lambda config, rng: None,
            state=image_model.probe_state,
            describe=lambda config: "missing",
            summary="a model whose module is not installed",
            module="tensorgrad.models.not_installed",
        ),
    )
    run_dir = tmp_path / "run"
    assert train_cli.main([*SMALL_FLAGS, "--model", "missing", "--out", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "tensorgrad-train: error: model 'missing' needs the module tensorgrad.models.not_installed, which this "
        "installation of tensorgrad does not have\n"
    )
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--model", "cnn", "--hidden", "10"], "--hidden is an option of --model mlp, not of --model cnn"),
        (["--channels", "8"], "--channels is an option of --model cnn, not of --model mlp"),
        (["--model", "cnn", "--channels", *["8"] * 7], "cnn channels must be 1 to 6 widths"),
        (["--model", "resnet"], "--model: invalid choice"),
        (["--augment", "crop,rotate"], "--augment: unknown augmentation 'rotate'"),
        (["--augment", "flip,flip"], "--augment: names an augmentation twice"),
        (["--label-smoothing", "1"], r"--label-smoothing: must be in \[0, 1\)"),
        (["--ema", "1"], r"--ema: must be in \[0, 1\)"),
        (
            ["--resume", "runs/x", "--ema", "0.9"],
            "--resume .* cannot take --ema$",
        ),  # the flag, not --ema-decay
    ],
)
def test_bad_model_and_regularization_flags_are_argparse_errors(flags, complaint, capsys):
    with pytest.raises(SystemExit) as info:
        train_cli.main(flags)
    assert info.value.code == 2
    assert re.search(complaint, capsys.readouterr().err)


def test_model_flags_go_to_their_config_section():
    config = train_cli.config_from_flags({"model": "cnn", "cnn_channels": [8, 16], "cnn_dropout": 0.1})
    assert (config.model, config.cnn.channels, config.cnn.hidden, config.cnn.dropout) == (
        "cnn",
        (8, 16),
        128,
        0.1,
    )
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert train_cli.config_from_flags({"augment": ("crop", "flip"), "ema_decay": 0.0}).ema_decay is None
    assert train_cli.augment_list("all") == ("crop", "flip", "erase") and train_cli.augment_list("none") == ()
    with pytest.raises(ValueError, match=r"unknown cnn settings \['width'\]"):
        TrainConfig.from_dict({"model": "cnn", "cnn": {"width": 3}})


def test_a_model_starts_from_its_own_defaults_under_the_preset_and_the_flags():
    cnn = train_cli.config_from_flags({"model": "cnn"})
    own = MODELS["cnn"].defaults
    assert own and all(getattr(cnn, key) == value for key, value in own.items())
    assert cnn == config_for("cnn") != TrainConfig(model="cnn")
    assert train_cli.config_from_flags({}) == TrainConfig()  # the MLP has none of its own
    # a flag overrides the model's default, and the others stay
    shorter = train_cli.config_from_flags({"model": "cnn", "epochs": 3, "augment": ()})
    assert (shorter.epochs, shorter.augment, shorter.lr_schedule) == (3, (), own["lr_schedule"])
    # another optimizer gets its own default rate, not the one the model chose for Adam
    assert train_cli.config_from_flags({"model": "cnn", "optimizer": "sgd"}).lr == DEFAULT_LR["sgd"]
    assert (
        train_cli.config_from_flags({"model": "cnn", "preset": "paper"}).epochs == PRESETS["paper"]["epochs"]
    )
    with pytest.raises(ValueError, match="model must be one of"):
        config_for("resnet")
    help_text = train_cli.build_parser().format_help()
    assert "which starts from --epochs 14" in " ".join(help_text.split())
    # flags as they are typed (argparse may wrap a line at a hyphen, so compare without the spaces)
    assert "--epochs14,--batch-size64," in "".join(help_text.split())
    assert "--ema0,--monitorlast,--val-size1000" in "".join(help_text.split())


def probe_run_flags(run_dir, *extra) -> list[str]:
    return [*SMALL_FLAGS, *PROBE, "--seed", "4", "--l2", "1e-3", *extra, "--out", str(run_dir)]


REGULARIZED = ["--augment", "crop,flip,erase", "--label-smoothing", "0.1", "--ema", "0.9"]


def test_the_kernels_threads_are_the_models_choice_or_the_flags_and_may_change_on_resume(
    tmp_path, monkeypatch, capsys
):
    assert kernel_threads(TrainConfig()) == 1  # the MLP: BLAS keeps its own threads
    assert kernel_threads(TrainConfig(model="cnn")) == parallel.cores()
    assert kernel_threads(TrainConfig(model="cnn", threads=3)) == 3
    assert TrainConfig(threads=3) == TrainConfig()  # not part of the run: the numbers do not depend on it
    with pytest.raises(ValueError, match="threads must be a positive int or None, got 0"):
        TrainConfig(threads=0)
    calls = []
    original = parallel.set_num_threads
    monkeypatch.setattr(parallel, "set_num_threads", lambda n: (calls.append(n), original(n)))
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at_step(patch, 3)
        assert train_cli.main(probe_run_flags(run, "--epochs", "2", "--threads", "2")) == 130
    assert calls == [2, 1] and parallel.get_num_threads() == 1  # set for the run, given back after it
    assert train_cli.main(["--resume", str(run), "--threads", "3", "--no-progress"]) == 0
    assert calls == [2, 1, 3, 1]
    # evaluating the run gives its kernels the threads the run had, and gives them back after
    assert evaluate_cli.main([str(run), "--json", "--no-download"]) == 0
    assert calls == [2, 1, 3, 1, 3, 1]
    capsys.readouterr()


def test_a_cnn_run_without_threadpoolctl_says_its_kernels_run_on_one_thread(fashion, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # no pictures: drawing them takes longer
    monkeypatch.setitem(sys.modules, "graphviz", None)
    config = TrainConfig(model="cnn", cnn={"channels": [4, 8], "hidden": 16, "dropout": 0.0}, epochs=1,
                         max_train_examples=100, val_size=100, batch_size=50, download=False)  # fmt: skip
    assert kernel_threads(config) == 1
    lines = []
    assert tg.training.train_run(config, tmp_path / "run", dataset=fashion, log=lines.append).exit_code == 0
    assert "note: the kernels run on one thread: threadpoolctl is not installed" in "\n".join(lines)


def test_an_image_model_with_buffers_trains_resumes_bit_for_bit_and_evaluates(tmp_path, monkeypatch, capsys):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    flags = ["--epochs", "3", *REGULARIZED]
    assert train_cli.main(probe_run_flags(straight, *flags)) == 0
    with monkeypatch.context() as patch:
        interrupt_at_step(patch, SMALL_STEPS_PER_EPOCH + 7)  # in epoch 2
        assert train_cli.main(probe_run_flags(interrupted, *flags)) == 130
    assert train_cli.main(["--resume", str(interrupted), "--no-progress"]) == 0
    capsys.readouterr()
    for name in ("last.npz", "best.npz"):
        assert_same_checkpoint(straight / name, interrupted / name)
    assert [without(r, "seconds") for r in read_jsonl(straight / "metrics.jsonl")] == [
        without(r, "seconds") for r in read_jsonl(interrupted / "metrics.jsonl")
    ]

    last, best = load_checkpoint(straight / "last.npz"), load_checkpoint(straight / "best.npz")
    # The buffers are in every state dict; the model counted its training steps, and nothing else (not the
    # graph drawn before training, not evaluation in eval mode).
    assert int(last.model_state["steps"]) == 3 * SMALL_STEPS_PER_EPOCH
    assert last.model_state["running_logits"].any()
    # With --ema, the average is what is evaluated and kept: best.npz holds it, and its buffers are copied.
    assert last.ema_state is not None and best.ema_state is None
    for name, value in best.model_state.items():
        assert np.array_equal(value, last.best_model_state[name])
    if last.progress["early_stopping"]["best_epoch"] == 3:
        assert np.array_equal(best.model_state["running_logits"], last.model_state["running_logits"])
        assert not np.array_equal(best.model_state["linear.weight"], last.model_state["linear.weight"])

    # evaluate and predict take the run folder as they do the MLP's, and agree with the run's own test.
    results = json.loads((straight / "results.json").read_text())
    assert evaluate_cli.main([str(straight), "--json", "--no-download"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == results["test_accuracy"]
    image = tmp_path / "item.png"
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(image)
    assert predict_cli.main([str(straight), str(image)]) == 0
    assert capsys.readouterr().out.startswith(f"{image}: ")


def test_the_buffers_decide_eval_mode_predictions_and_are_restored_from_checkpoints(fashion, tmp_path):
    with_buffer = as_images(fashion.test_images[:500])
    config = TrainConfig(
        model=image_model.NAME, max_train_examples=500, val_size=100, epochs=1, download=False
    )
    run_dir = tmp_path / "run"
    outcome = tg.training.train_run(config, run_dir, dataset=fashion, log=lambda _: None)
    model, *_ = load_trained_model(run_dir)
    assert model.running_logits.data.any() and int(model.steps.data) == 4
    trained = evaluate(model, with_buffer, fashion.test_labels[:500])
    model.running_logits.data[...] = 0
    assert evaluate(model, with_buffer, fashion.test_labels[:500]).loss != trained.loss
    assert evaluate_checkpoint(run_dir, dataset=fashion)["test_accuracy"] == outcome.results["test_accuracy"]


def test_a_checkpoint_with_a_float_step_count_or_a_missing_buffer_is_refused(tmp_path):
    config = TrainConfig(model=image_model.NAME)
    model = build_model(config, rng=0)
    path = tmp_path / "probe.npz"
    state = model.state_dict()
    for changed, complaint in [
        ({**state, "steps": np.array(3.0)}, "model/steps holds float64, not an integer count"),
        ({k: v for k, v in state.items() if k != "running_logits"}, "missing ['running_logits']"),
    ]:
        ckpt.save_checkpoint(path, ckpt.Checkpoint(config=config.to_dict(), model_state=changed, epoch=0))
        with pytest.raises(CheckpointError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
            load_checkpoint(path)


def test_a_cnn_config_asking_for_huge_channels_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    config = TrainConfig(model="cnn", cnn={"channels": [10**9], "hidden": 8, "dropout": 0.0})
    path = tmp_path / "crafted.npz"
    state = {"0.weight": np.zeros((2, 1, 3, 3), np.float32)}
    ckpt.save_checkpoint(path, ckpt.Checkpoint(config=config.to_dict(), model_state=state, epoch=0))
    monkeypatch.setattr(
        tg.training.inference, "build_model", lambda *a, **k: pytest.fail("a model was built")
    )
    with pytest.raises(CheckpointError, match=r"do not fit its config \(model cnn, channels \[1000000000\]"):
        load_trained_model(path)


def test_fit_trains_any_module_with_any_loss_on_the_shape_it_wants(fashion):
    images, labels = as_images(fashion.train_images[:600]), fashion.train_labels[:600]
    config = TrainConfig(model=image_model.NAME, epochs=2, batch_size=100, l2=0.0, download=False)
    model = build_model(config, rng=1)
    calls = []

    def squared_error(logits, y):  # any loss: here the mean squared error to one-hot targets
        calls.append(logits.shape)
        return F.mse_loss(F.softmax(logits), tg.tensor(np.eye(10, dtype=np.float32)[y]))

    loader = DataLoader(images[:500], labels[:500], 100, rng=0)
    optimizer = tg.optim.Adam(list(model.parameters()), lr=1e-2)
    state = fit(model, optimizer, loader, images[500:], labels[500:], config, loss_fn=squared_error, log=None)
    assert calls == [(100, 10)] * 10 and state.epoch == 2
    assert model.last_batch[True].shape == (100, 1, 28, 28)  # the model's own input shape, in train mode
    assert np.array_equal(model.last_batch[False], images[500:])  # evaluation sees the data as it is
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"]


def test_the_loss_defaults_to_the_models_own_or_cross_entropy_and_l2_is_the_loops():
    rng = np.random.default_rng(0)
    x, y = rng.random((6, 1, 28, 28), dtype=np.float32), np.array([0, 1, 2, 3, 4, 5])
    probe = image_model.ImageProbe(rng=0).eval()  # eval: no dropout, so the loss is deterministic
    loss, logits = training_loss(probe, l2=0.5)(x, y)
    weight = probe.linear.weight.data
    expected = F.cross_entropy(logits, y).item() + 0.5 / (2 * 6) * float(np.vdot(weight, weight))
    assert l2_weights(probe) == [probe.linear.weight]  # the matrices and kernels, not biases
    assert np.isclose(loss.item(), expected, rtol=1e-6)
    smoothed, _ = training_loss(probe, lambda z, t: F.cross_entropy(z, t, label_smoothing=0.1))(x, y)
    assert np.isclose(smoothed.item(), F.cross_entropy(logits, y, label_smoothing=0.1).item())
    mlp = build_model(TrainConfig(hidden=(4,)), rng=0).eval()  # the MLP's own loss, on flat rows
    loss, logits = training_loss(mlp, l2=0.1)(x, y)
    assert logits.shape == (6, 10) and np.isclose(loss.item(), mlp.loss(x.reshape(6, 784), y, 0.1).item())


def test_label_smoothing_in_a_run_is_cross_entropys():
    loss_fn = tg.training.build_loss(TrainConfig(label_smoothing=0.2))
    logits, y = tg.tensor(np.random.default_rng(0).standard_normal((4, 10))), np.array([1, 2, 3, 4])
    assert loss_fn(logits, y).item() == F.cross_entropy(logits, y, label_smoothing=0.2).item()
    assert tg.training.build_loss(TrainConfig(label_smoothing=0.0)) is None  # the model's own loss


def test_model_ema_is_a_lerp_of_the_parameters_with_the_buffers_copied():
    model = image_model.ImageProbe(rng=0)
    ema = ModelEMA(model, decay=0.75, warmup=False)
    start = model.linear.weight.data.copy()
    assert (
        np.array_equal(ema.module.linear.weight.data, start)
        and ema.module.linear.weight is not model.linear.weight
    )
    averaged = start.copy()
    for step in range(3):
        model.linear.weight.data[...] += np.float32(step + 1)
        model.running_logits.data[...] = step
        model.steps.data[...] = step + 10
        ema.update(model)
        averaged = averaged + np.float32(0.25) * (model.linear.weight.data - averaged)
        np.testing.assert_allclose(ema.module.linear.weight.data, averaged, rtol=1e-6)
        assert np.array_equal(ema.module.running_logits.data, np.full(10, step, np.float32))
        assert int(ema.module.steps.data) == step + 10
    assert ema.module.linear.weight.data.dtype == np.float32
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\), got 1"):
        ModelEMA(model, decay=1)


def test_model_ema_warms_up_as_tensorflows_average_with_num_updates():
    # the decay after n updates is min(decay, (1 + n) / (10 + n)): 0.1, 2/11, 3/12, ... then decay itself
    model = image_model.ImageProbe(rng=0)
    ema = ModelEMA(model, decay=0.25)
    averaged = model.linear.weight.data.astype(np.float64)
    for n in range(4):
        assert ema.current_decay() == min(0.25, (1 + n) / (10 + n)) and ema.updates == n
        model.linear.weight.data[...] = np.float32(n + 1)
        ema.update(model)
        decay = min(0.25, (1 + n) / (10 + n))
        averaged = decay * averaged + (1 - decay) * model.linear.weight.data
        np.testing.assert_allclose(ema.module.linear.weight.data, averaged, rtol=1e-6)
    assert ema.updates == 4 and ema.current_decay() == 0.25
    long = ModelEMA(model, decay=0.999)
    long.updates = 8000
    assert long.current_decay() == 8001 / 8010
    long.updates = 9000
    assert long.current_decay() == 0.999  # (1 + n) / (10 + n) passes it after about 9,000 updates


def test_model_ema_matches_torchs_averaged_model():
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    model = build_model(TrainConfig(hidden=(5,), standardize=None), rng=0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(784, 5), torch.nn.ReLU(), torch.nn.Dropout(), torch.nn.Linear(5, 10)
    )
    reference.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    averaged = AveragedModel(reference, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    averaged.update_parameters(reference)  # torch's first update copies; ours starts from the copy
    ema = ModelEMA(model, decay=0.9, warmup=False)  # torch's average has no warm-up
    rng = np.random.default_rng(1)
    for _ in range(4):
        for (_, param), (_, torch_param) in zip(model.named_parameters(), reference.named_parameters()):
            param.data[...] = rng.standard_normal(param.shape).astype(np.float32)
            torch_param.data.copy_(torch.from_numpy(param.data.copy()))
        ema.update(model)
        averaged.update_parameters(reference)
    for key, value in ema.state_dict().items():
        np.testing.assert_allclose(value, averaged.module.state_dict()[key].numpy(), rtol=1e-6, atol=1e-7)


def test_augmentation_reaches_training_batches_only(fashion):
    config = TrainConfig(model=image_model.NAME, epochs=1, batch_size=50, augment=("flip",), l2=0.0)
    images, labels = as_images(fashion.train_images[:150]), fashion.train_labels[:150]
    augment, rng = tg.training.build_augmentation(config), np.random.default_rng(0)
    loader = DataLoader(images[:100], labels[:100], 50, shuffle=False, transform=lambda x: augment(x, rng))
    model = build_model(config, rng=0)
    optimizer = tg.optim.Adam(list(model.parameters()))
    fit(model, optimizer, loader, images[100:], labels[100:], config, log=None)
    seen, original = model.last_batch[True], images[50:100]  # the last training batch, as the model saw it
    mirrored = [np.array_equal(a, b[..., ::-1]) for a, b in zip(seen, original)]
    kept = [np.array_equal(a, b) for a, b in zip(seen, original)]
    assert all(m or k for m, k in zip(mirrored, kept)) and 10 < sum(mirrored) < 40
    assert np.array_equal(model.last_batch[False], images[100:])  # validation data as it is
