"""The training loop: its loss, schedule, evaluation, early stopping, and non-finite loss handling."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.data import DataLoader, to_float32
from tensorgrad.optim import state_from_arrays, state_to_arrays
from tensorgrad.training import (
    EarlyStopping,
    NonFiniteLossError,
    TrainConfig,
    build_model,
    build_optimizer,
    build_scheduler,
    evaluate,
    fit,
    load_checkpoint,
    loop,
    train_run,
)


def small_problem(fashion, n_train: int, n_val: int = 1000):
    x, y = to_float32(fashion.train_images[: n_train + n_val]), fashion.train_labels[: n_train + n_val]
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def test_training_loss_matches_model_loss():
    config = TrainConfig(hidden=(16, 8))
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    y = np.array([0, 3, 9, 3, 1])
    losses = []
    for use_loop in (True, False):
        model = build_model(config, rng=7)  # same weights and the same dropout masks for both
        if use_loop:
            loss, logits = loop.training_loss(model, l2=0.5)(x, y)
            assert logits.shape == (5, 10)
        else:
            loss = model.loss(x, y, 0.5)
        losses.append(float(loss.data))
    assert losses[0] == losses[1]


def epoch_rates(config: TrainConfig, optimizer_name: str = "sgd") -> list:
    """The learning rate of each epoch under `config`'s schedule, as `fit` steps it."""
    model = build_model(TrainConfig(hidden=(2,)), rng=0)
    optimizer = build_optimizer(
        dataclasses.replace(config, optimizer=optimizer_name, lr=config.lr), model.parameters()
    )
    optimizer.param_groups[0]["lr"] = 123.0  # what a group holds before does not matter
    schedule = build_scheduler(config, optimizer)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(config.epochs - 1):
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_the_cosine_schedule_is_the_closed_form_of_before():
    rates = epoch_rates(TrainConfig(lr=0.01, lr_schedule="cosine", epochs=10))
    expected = [0.01 * 0.5 * (1.0 + math.cos(math.pi * (e - 1) / 10)) for e in range(1, 11)]
    np.testing.assert_allclose(rates, expected, rtol=1e-14)
    assert rates[0] == 0.01 and all(a > b > 0 for a, b in zip(rates, rates[1:]))


def test_constant_and_step_schedules():
    assert epoch_rates(TrainConfig(lr=0.01, lr_schedule="constant", epochs=10)) == [0.01] * 10
    rates = epoch_rates(TrainConfig(lr=0.01, lr_schedule="step", epochs=9))
    np.testing.assert_allclose(rates, [0.01] * 3 + [0.001] * 3 + [0.0001] * 3, rtol=1e-12)


def test_warmup_epochs_rise_linearly_then_follow_the_schedule():
    rates = epoch_rates(TrainConfig(lr=0.03, lr_schedule="cosine", warmup_epochs=2, epochs=10))
    after = [0.03 * 0.5 * (1.0 + math.cos(math.pi * k / 8)) for k in range(8)]
    np.testing.assert_allclose(rates, [0.01, 0.02, *after], rtol=1e-12)


def test_onecycle_peaks_at_the_configured_rate_and_cycles_adams_beta1():
    config = TrainConfig(lr=0.01, lr_schedule="onecycle", epochs=10)
    rates = epoch_rates(config, "adam")
    assert rates[0] == pytest.approx(0.01 / 25) and max(rates) == pytest.approx(0.01)
    assert rates.index(max(rates)) == 2  # the end of the first 30 %
    model = build_model(TrainConfig(hidden=(2,)), rng=0)
    optimizer = build_optimizer(config, model.parameters())
    build_scheduler(config, optimizer)
    assert optimizer.param_groups[0]["betas"] == (0.95, 0.999)


def test_fit_steps_the_schedule_after_every_batch(fashion):
    """Batch b trains at OneCycleLR's rate after b steps of all epochs' batches; an epoch logs its first rate."""
    (x, y), (val_x, val_y) = small_problem(fashion, 200, n_val=50)
    config = TrainConfig(hidden=(8,), lr=0.01, lr_schedule="onecycle", batch_size=50, epochs=3)
    model = build_model(config, rng=0)
    optimizer = build_optimizer(config, model.parameters())
    rates = []
    original_step = optimizer.step

    def step():
        rates.append(optimizer.param_groups[0]["lr"])
        original_step()

    optimizer.step = step
    state = fit(model, optimizer, DataLoader(x, y, 50, rng=1), val_x, val_y, config, log=None)
    total = 3 * 4
    peak_at = 0.3 * total - 1  # OneCycleLR's warm-up ends at this step
    expected = []
    for b in range(total):
        start, end, fraction = (
            (0.01 / 25, 0.01, b / peak_at)
            if b <= peak_at
            else (0.01, 0.01 / 25 / 1e4, (b - peak_at) / (total - 1 - peak_at))
        )
        expected.append(end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1))
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    assert [row["lr"] for row in state.history] == [rates[0], rates[4], rates[8]]


def test_schedule_settings_are_checked():
    with pytest.raises(ValueError, match="warmup_epochs must be 0 with lr_schedule 'onecycle'"):
        TrainConfig(lr_schedule="onecycle", warmup_epochs=2)
    with pytest.raises(ValueError, match=r"less than epochs \(5\)"):
        TrainConfig(warmup_epochs=5, epochs=5)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TrainConfig(lr_schedule="linear")


def test_a_rebuilt_schedule_continues_a_loaded_optimizer_exactly():
    """Resuming rebuilds the schedule from the config and steps it to the epoch: rates and beta1 as before."""
    config = TrainConfig(lr=0.01, lr_schedule="onecycle", epochs=10, hidden=(3,))
    model = build_model(config, rng=0)
    optimizer = build_optimizer(config, model.parameters())
    schedule = build_scheduler(config, optimizer)
    for _ in range(4):
        schedule.step()
    saved = state_to_arrays(optimizer.state_dict())
    resumed = build_optimizer(config, build_model(config, rng=0).parameters())
    resumed.load_state_dict(state_from_arrays(saved))
    rebuilt = build_scheduler(config, resumed)
    for _ in range(4):
        rebuilt.step()
    assert resumed.param_groups == [
        {**group, "params": resumed.param_groups[0]["params"]} for group in optimizer.param_groups
    ]


def test_early_stopping_counts_epochs_without_improvement():
    stopping = EarlyStopping("val_loss", patience=2)
    assert stopping.update(1, {"val_loss": 0.5})
    assert not stopping.update(2, {"val_loss": 0.6})
    assert stopping.update(3, {"val_loss": 0.4})
    assert not stopping.update(4, {"val_loss": float("nan")})  # never "better" than a real number
    assert not stopping.should_stop
    assert not stopping.update(5, {"val_loss": 0.4})  # equal is not better
    assert stopping.should_stop and stopping.best_epoch == 3 and stopping.best == 0.4
    by_accuracy = EarlyStopping("val_accuracy", patience=None)
    assert by_accuracy.update(1, {"val_accuracy": 0.5}) and by_accuracy.update(2, {"val_accuracy": 0.6})
    assert not by_accuracy.update(3, {"val_accuracy": 0.1})
    assert not by_accuracy.should_stop  # no patience: never stops


def test_early_stopping_on_last_keeps_every_epoch_with_a_finite_validation_loss():
    stopping = EarlyStopping("last", patience=2)
    assert stopping.update(1, {"val_loss": 0.4}) and stopping.update(2, {"val_loss": 0.6})  # worse, kept
    assert not stopping.update(3, {"val_loss": float("inf")})
    assert stopping.best_epoch == 2 and stopping.best == 0.6 and stopping.metric == "val_loss"
    assert not stopping.should_stop
    assert not stopping.update(4, {"val_loss": float("nan")})
    assert stopping.should_stop  # two epochs in a row without a finite loss
    assert stopping.stop_reason() == (
        "early stopping: val_loss was not finite for 2 epochs (best 0.6000 at epoch 2)"
    )


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy", "last"])
def test_early_stopping_says_why_even_with_no_finite_value_yet(monitor):
    stopping = EarlyStopping(monitor, patience=1)
    stopping.update(1, {"val_loss": float("nan"), "val_accuracy": float("nan")})
    assert stopping.should_stop and stopping.stop_reason().endswith("for 1 epoch (no finite value yet)")


def test_fit_with_monitor_last_keeps_the_last_weights_where_the_best_would_be_earlier(fashion):
    # the set-up of the early stopping test below: the validation loss soon rises (on pixels as they are)
    (x, y), (val_x, val_y) = small_problem(fashion, 200)
    config = TrainConfig(
        hidden=(64, 32), keep_prob=1.0, lr=3e-3, lr_schedule="constant", batch_size=50, epochs=20,
        patience=3, monitor="last", standardize=None, input_gamma=1.0,
    )  # fmt: skip
    model = build_model(config, rng=0)
    state = fit(model, build_optimizer(config, model.parameters()), DataLoader(x, y, 50, rng=1), val_x, val_y,
                config, log=None)  # fmt: skip
    losses = [row["val_loss"] for row in state.history]
    assert state.epoch == state.early_stopping.best_epoch == 20 and state.stop_reason is None
    assert losses.index(min(losses)) < 19 - 3  # val_loss would have stopped and kept an earlier epoch
    final = model.state_dict()
    assert all(np.array_equal(final[name], value) for name, value in state.best_weights.items())


def test_gradient_clipping_scales_the_joint_norm_down_and_reports_it_before_clipping():
    model = build_model(TrainConfig(hidden=(4,)), rng=0)
    params = list(model.parameters())
    for p in params:
        p.grad = tg.tensor(np.full(p.shape, 3.0, dtype=np.float32))
    norm = 3.0 * math.sqrt(sum(p.data.size for p in params))
    assert loop._gradient_norm(params, None) == pytest.approx(norm)  # no clipping: untouched
    assert loop._gradient_norm(params, 0.5) == pytest.approx(norm)
    assert loop._gradient_norm(params, None) == pytest.approx(0.5, rel=1e-4)


def test_evaluate_runs_in_eval_mode_and_restores_the_mode(fashion):
    (x, y), _ = small_problem(fashion, 300)
    model = build_model(TrainConfig(hidden=(32, 16), keep_prob=0.5), rng=0)
    model.train()
    first, second = evaluate(model, x, y, batch_size=64), evaluate(model, x, y)
    assert model.training
    assert first.loss == pytest.approx(second.loss, rel=1e-5)  # no dropout, batch size does not matter
    assert first.accuracy == second.accuracy and first.predictions.shape == (300,)


def test_evaluate_records_no_graph(fashion):
    (x, y), _ = small_problem(fashion, 300)
    model = build_model(TrainConfig(hidden=(32, 16)), rng=0)
    outputs = []
    forward = model.forward
    model.forward = lambda batch: outputs.append(forward(batch)) or outputs[-1]  # see every batch's logits
    evaluate(model, x, y, batch_size=100)
    assert len(outputs) == 3
    assert all(logits.grad_fn is None and not logits.requires_grad for logits in outputs)
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    assert forward(x[:10]).grad_fn is not None  # outside evaluate the same model records again


def test_early_stopping_stops_and_restores_the_best_weights(fashion):
    # 200 examples and no dropout: the validation loss soon rises as the model memorizes them.
    (x, y), (val_x, val_y) = small_problem(fashion, 200)
    config = TrainConfig(
        hidden=(64, 32), keep_prob=1.0, lr=3e-3, lr_schedule="constant", batch_size=50, epochs=40, patience=3,
        monitor="val_loss", ema_decay=None,
    )  # fmt: skip
    model = build_model(config, rng=0)
    optimizer = build_optimizer(config, model.parameters())
    snapshots = {}
    state = fit(
        model,
        optimizer,
        DataLoader(x, y, 50, rng=1),
        val_x,
        val_y,
        config,
        log=None,
        on_epoch_end=lambda state, improved: snapshots.update({state.epoch: model.state_dict()}),
    )
    best = state.early_stopping.best_epoch
    assert state.stop_reason is not None and "did not improve for 3 epochs" in state.stop_reason
    assert state.epoch == best + 3 < config.epochs
    assert min(row["val_loss"] for row in state.history) == state.history[best - 1]["val_loss"]
    final = model.state_dict()
    for name, value in snapshots[best].items():
        assert np.array_equal(final[name], value)
    assert not np.array_equal(final["0.weight"], snapshots[state.epoch]["0.weight"])


def test_a_short_epoch_on_real_data_reaches_a_sane_accuracy(fashion):
    (x, y), (val_x, val_y) = small_problem(fashion, 10_000, n_val=2000)
    config = TrainConfig(lr_schedule="constant", batch_size=32, epochs=1)
    model = build_model(config, rng=0)
    state = fit(
        model,
        build_optimizer(config, model.parameters()),
        DataLoader(x, y, 32, rng=0),
        val_x,
        val_y,
        config,
        log=None,
    )
    assert state.history[0]["val_accuracy"] > 0.75
    test = evaluate(model, to_float32(fashion.test_images), fashion.test_labels)
    assert test.accuracy > 0.75


def poison_steps(monkeypatch, steps: set[int]):
    """Make the loss NaN on the given (1-based) training steps, counted over the whole run."""
    real = loop.training_loss
    calls = {"count": 0}

    def poisoned_objective(*args, **kwargs):
        objective = real(*args, **kwargs)

        def poisoned(x, y):
            calls["count"] += 1
            loss, logits = objective(x, y)
            return (loss * float("nan") if calls["count"] in steps else loss), logits

        return poisoned

    monkeypatch.setattr(loop, "training_loss", poisoned_objective)


def test_a_nan_loss_stops_the_run_naming_epoch_and_step_and_keeps_the_best_checkpoint(
    fashion, small_config, tmp_path, monkeypatch
):
    poison_steps(monkeypatch, {20 + 7})  # epoch 2, step 7 (20 steps per epoch)
    lines = []
    outcome = train_run(small_config(epochs=3), tmp_path / "run", dataset=fashion, log=lines.append)
    assert outcome.status == "non-finite" and outcome.exit_code == 1
    message = "\n".join(lines)
    assert "the loss is nan at epoch 2, step 7 of 20" in message and "--on-nan skip" in message
    best = load_checkpoint(tmp_path / "run" / "best.npz")
    last = load_checkpoint(tmp_path / "run" / "last.npz")
    assert best.epoch == 1 and last.epoch == 1
    assert all(np.isfinite(value).all() for value in best.model_state.values())
    # The run still reports the best weights' test accuracy, and why it stopped.
    assert outcome.results["best_epoch"] == 1 and outcome.results["stopped_early"]
    assert "non-finite" in outcome.results["stop_reason"]


def test_a_nan_loss_with_on_nan_skip_skips_those_updates_and_counts_them(
    fashion, small_config, tmp_path, monkeypatch
):
    poison_steps(monkeypatch, {3, 20 + 5, 20 + 6})
    outcome = train_run(
        small_config(epochs=2, on_nan="skip"), tmp_path / "run", dataset=fashion, log=lambda _: None
    )
    assert outcome.status == "finished" and outcome.exit_code == 0
    assert outcome.results["skipped_steps"] == 3
    history = load_checkpoint(tmp_path / "run" / "last.npz").progress["history"]
    assert [row["skipped_steps"] for row in history] == [1, 2]
    weights = load_checkpoint(tmp_path / "run" / "best.npz").model_state
    assert all(np.isfinite(value).all() for value in weights.values())


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_weights_are_caught_at_the_next_step(fashion, small_config):
    (x, y), (val_x, val_y) = small_problem(fashion, 500)
    config = small_config(epochs=2)
    model = build_model(config, rng=0)

    def break_weights(epoch, step):
        if (epoch, step) == (1, 2):
            model[0].weight.data[0, 0] = np.inf

    with pytest.raises(NonFiniteLossError, match="epoch 1, step 3 of 5"):
        fit(
            model,
            build_optimizer(config, model.parameters()),
            DataLoader(x, y, 100, rng=0),
            val_x,
            val_y,
            config,
            on_step=break_weights,
            log=None,
        )
