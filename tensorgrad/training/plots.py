"""The run folder's pictures: learning curves, the confusion matrix, and the graph of one training step.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so nothing here changes the backend or the
global state of a program (a notebook, say) that imports it. Files are written atomically. `curves_figure` and
`confusion_figure` return the `matplotlib.figure.Figure` itself, to show inline in a notebook.
"""

from __future__ import annotations

import io
import os

import numpy as np

from ..files import write_bytes_atomically


def plot_curves(history: list[dict], best_epoch: int | None, path: str | os.PathLike[str]) -> None:
    """`curves.png`: training and validation loss (left) and accuracy (right) per epoch, the best epoch marked."""
    _save(curves_figure(history, best_epoch), path)


def curves_figure(history: list[dict], best_epoch: int | None = None):
    """The figure of `plot_curves`: `history` holds one dict per epoch with the keys "epoch", "train_loss",
    "val_loss", "train_accuracy" and "val_accuracy"; `best_epoch` (if given) is marked."""
    epochs = [row["epoch"] for row in history]
    figure = _new_figure(figsize=(10, 4))
    for axes, metric, label in zip(
        figure.subplots(1, 2), ("loss", "accuracy"), ("cross-entropy (train: + L2 term)", "accuracy")
    ):
        for split in ("train", "val"):
            values = [row[f"{split}_{metric}"] for row in history]
            axes.plot(epochs, values, marker="o", markersize=3, label=split)
        if best_epoch:
            best_row = next(row for row in history if row["epoch"] == best_epoch)
            axes.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
            axes.plot(
                [best_epoch],
                [best_row[f"val_{metric}"]],
                "k*",
                markersize=12,
                label=f"best epoch ({best_epoch})",
            )
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    if len(epochs) <= 20:
        for axes in figure.axes:
            axes.set_xticks(epochs)
    return figure


def plot_confusion(confusion: np.ndarray, class_names, path: str | os.PathLike[str], title: str = "") -> None:
    """`confusion.png`: the confusion matrix (rows: true class, columns: predicted) with the count in each cell."""
    _save(confusion_figure(confusion, class_names, title), path)


def confusion_figure(confusion: np.ndarray, class_names, title: str = ""):
    """The figure of `plot_confusion`: counts [true, predicted], as `metrics.confusion_matrix` returns them."""
    confusion = np.asarray(confusion)
    n = len(class_names)
    figure = _new_figure(figsize=(8.5, 7.5))
    axes = figure.subplots()
    image = axes.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xticks(range(n), labels=class_names, rotation=45, ha="right")
    axes.set_yticks(range(n), labels=class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title or "confusion matrix")
    # Dark cells get white text, light cells black, so every count stays readable.
    threshold = confusion.max() / 2 if confusion.size else 0
    for i in range(n):
        for j in range(n):
            count = int(confusion[i, j])
            axes.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if count > threshold else "black",
            )
    return figure


def save_training_graph(
    model, x: np.ndarray, y: np.ndarray, path: str | os.PathLike[str], objective=None
) -> None:
    """`graph.svg`: the graph of one training step (`objective(x, y) -> (loss, logits)`, by default the
    model's loss, see `loop.training_loss`; and its backward), parameters named.

    The model's dropout generator and its buffers (batch norm's running statistics) are restored and the
    gradients cleared afterwards, so drawing the graph changes nothing about the training that follows.
    Needs Graphviz's `dot` program (raises `graphviz.ExecutableNotFound` without it).
    """
    from ..viz import draw_graph  # imported here: graphviz is only needed for this picture
    from .loop import training_loss

    objective = training_loss(model) if objective is None else objective
    rng = getattr(model, "rng", None)
    saved_state = rng.bit_generator.state if isinstance(rng, np.random.Generator) else None
    saved_buffers = [(buffer, buffer.data.copy()) for buffer in model.buffers()]
    was_training = model.training
    try:
        model.train()
        loss, _ = objective(x, y)
        loss.backward(retain_graph=True)
        graph = draw_graph(loss, dict(model.named_parameters()), show_grad_norm=True)
        write_bytes_atomically(path, graph.pipe(format="svg"))
    finally:
        model.zero_grad()
        model.train(was_training)
        if saved_state is not None:
            rng.bit_generator.state = saved_state
        for buffer, data in saved_buffers:
            buffer.data[...] = data


def _new_figure(figsize: tuple):
    # Imported here: matplotlib takes most of a second to import, and only the end of a run needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    write_bytes_atomically(path, buffer.getvalue())
