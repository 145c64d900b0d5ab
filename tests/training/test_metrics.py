from __future__ import annotations

import numpy as np
import pytest

from tensorgrad.training import accuracy, confusion_matrix, per_class_accuracy


def test_accuracy_is_the_fraction_of_matches():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])
    confusion = confusion_matrix(predictions, labels, num_classes=4)
    expected = np.zeros((4, 4), dtype=np.int64)
    for true, predicted in zip(labels, predictions):
        expected[true, predicted] += 1
    np.testing.assert_array_equal(confusion, expected)
    assert confusion.sum(axis=1).tolist() == [2, 1, 3, 0]


def test_per_class_accuracy_is_the_diagonal_over_the_row_sums_and_nan_for_an_absent_class():
    confusion = confusion_matrix(np.array([0, 1, 1, 2, 0, 2]), np.array([0, 0, 1, 2, 2, 2]), num_classes=4)
    got = per_class_accuracy(confusion)
    np.testing.assert_allclose(got[:3], [0.5, 1.0, 2 / 3])
    assert np.isnan(got[3])


def test_metrics_reject_mismatched_or_out_of_range_input():
    with pytest.raises(ValueError, match="same length"):
        accuracy(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), num_classes=3)
    with pytest.raises(TypeError, match="class indices"):
        accuracy(np.array([0.0, 1.0]), np.array([0, 1]))
