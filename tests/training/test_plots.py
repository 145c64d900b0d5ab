"""The run folder's figures, returned for inline display: what they draw, and that the files hold the same."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tensorgrad.training.plots import confusion_figure, curves_figure, plot_curves

HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "val_loss": 0.7, "train_accuracy": 0.70, "val_accuracy": 0.75},
    {"epoch": 2, "train_loss": 0.6, "val_loss": 0.5, "train_accuracy": 0.80, "val_accuracy": 0.82},
    {"epoch": 3, "train_loss": 0.5, "val_loss": 0.55, "train_accuracy": 0.84, "val_accuracy": 0.81},
]


def test_curves_figure_plots_each_split_per_epoch_and_marks_the_best_epoch():
    figure = curves_figure(HISTORY, best_epoch=2)
    assert isinstance(figure, Figure)
    loss_axes, accuracy_axes = figure.axes
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        lines = {line.get_label(): line for line in axes.get_lines()}
        for split in ("train", "val"):
            np.testing.assert_array_equal(lines[split].get_xdata(), [1, 2, 3])
            np.testing.assert_array_equal(
                lines[split].get_ydata(), [row[f"{split}_{metric}"] for row in HISTORY]
            )
        np.testing.assert_array_equal(lines["best epoch (2)"].get_ydata(), [HISTORY[1][f"val_{metric}"]])


def test_curves_figure_without_a_best_epoch_marks_none():
    labels = [line.get_label() for axes in curves_figure(HISTORY).axes for line in axes.get_lines()]
    assert not any(label.startswith("best epoch") for label in labels)


def test_confusion_figure_writes_every_count_in_its_cell():
    confusion = np.array([[5, 1], [0, 7]])
    figure = confusion_figure(confusion, ["cat", "dog"], title="pets")
    axes = figure.axes[0]
    cells = {(text.get_position(), text.get_text()) for text in axes.texts}
    assert cells == {((0, 0), "5"), ((1, 0), "1"), ((0, 1), "0"), ((1, 1), "7")}
    assert axes.get_title() == "pets"
    np.testing.assert_array_equal(axes.images[0].get_array(), confusion)


def test_plot_curves_writes_the_figure_as_png(tmp_path):
    path = tmp_path / "curves.png"
    plot_curves(HISTORY, 2, path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
