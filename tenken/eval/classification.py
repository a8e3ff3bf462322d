"""Classification accuracy with a confusion matrix (factory task recognition and other one-label tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class ClassificationScores:
    """Accuracy (0..1), the label order, and ``confusion[i, j]`` = count of true ``labels[i]`` predicted
    ``labels[j]`` (int64, ``(K, K)``). Predicted labels outside the known set are counted in the row's
    ``other`` column (the last label, ``"(other)"``), so every sample appears exactly once."""

    accuracy: float
    labels: list[str]
    confusion: np.ndarray
    per_class_recall: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "accuracy": self.accuracy,
            "n": int(self.confusion.sum()),
            "labels": self.labels,
            "confusion": self.confusion.tolist(),
            "per_class_recall": self.per_class_recall,
        }


OTHER = "(other)"


def classification_scores(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> ClassificationScores:
    """Accuracy and confusion matrix of string labels.

    Args:
        y_true: true label per sample.
        y_pred: predicted label per sample (same length).
        labels: the label order (default: true labels in order of first appearance, then predicted ones).
            Predictions outside it go to the ``"(other)"`` column, which is only added when needed.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    order = list(dict.fromkeys(labels if labels is not None else [*y_true, *y_pred]))
    missing = [t for t in y_true if t not in order]
    if missing:
        raise ValueError(f"true label {missing[0]!r} is not in the label list {order}")
    if any(p not in order for p in y_pred):
        order.append(OTHER)
    index = {lab: i for i, lab in enumerate(order)}
    cm = np.zeros((len(order), len(order)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], index.get(p, index.get(OTHER, 0))] += 1
    n = int(cm.sum())
    recall = {lab: float(cm[i, i] / cm[i].sum()) for i, lab in enumerate(order) if cm[i].sum() > 0}
    return ClassificationScores(
        accuracy=float(np.trace(cm) / n) if n else float("nan"),
        labels=order,
        confusion=cm,
        per_class_recall=recall,
    )
