"""Classification metrics on arrays of class indices: accuracy, confusion matrix, per-class accuracy."""

from __future__ import annotations

import numpy as np


def accuracy(predictions, labels) -> float:
    """The fraction of `predictions` equal to `labels` (both arrays of class indices, same length)."""
    predictions, labels = _checked_pair(predictions, labels)
    if predictions.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(np.mean(predictions == labels))


def confusion_matrix(predictions, labels, num_classes: int) -> np.ndarray:
    """Counts (num_classes, num_classes), int64: entry [true, predicted], so row i sums to class i's count."""
    predictions, labels = _checked_pair(predictions, labels)
    for name, values in (("predictions", predictions), ("labels", labels)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} must lie in [0, {num_classes}), got values from {values.min()} to {values.max()}"
            )
    # One bincount over the flattened (true, predicted) pair index: no Python loop over examples.
    flat = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """The accuracy on each true class (the diagonal over the row sums); NaN for a class with no examples."""
    confusion = np.asarray(confusion)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diagonal(confusion) / np.maximum(totals, 1), np.nan)


def _checked_pair(predictions, labels) -> tuple[np.ndarray, np.ndarray]:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or predictions.ndim != 1:
        raise ValueError(
            f"predictions and labels must be 1-D arrays of the same length, got shapes "
            f"{predictions.shape} and {labels.shape}"
        )
    if predictions.dtype.kind not in "iu" or labels.dtype.kind not in "iu":
        raise TypeError(
            f"predictions and labels must hold class indices, got {predictions.dtype} and {labels.dtype}"
        )
    return predictions, labels
