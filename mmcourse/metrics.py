"""Classification metrics beyond accuracy: the confusion matrix, per-class precision and recall.

Everything starts from the confusion matrix ``C`` of ``K`` classes, laid out as scikit-learn's
``confusion_matrix``: ``C[i, j]`` counts the samples of true class ``i`` predicted as class
``j`` (rows: the truth, columns: the prediction). For class ``k``:

* true positives ``TP_k = C[k, k]``, the diagonal;
* false positives ``FP_k = sum_i C[i, k] - C[k, k]`` (column ``k`` without the diagonal):
  samples of other classes called ``k``;
* false negatives ``FN_k = sum_j C[k, j] - C[k, k]`` (row ``k`` without the diagonal):
  samples of class ``k`` called something else.

Then ``precision_k = TP_k / (TP_k + FP_k)`` (of the samples called ``k``, the share that are
``k``), ``recall_k = TP_k / (TP_k + FN_k)`` (of the samples of class ``k``, the share found) and
``F1_k = 2 TP_k / (2 TP_k + FP_k + FN_k)``, their harmonic mean. Accuracy is
``trace(C) / sum(C)``; the *macro* average of a metric is its plain mean over the ``K`` classes,
so that a rare class weighs as much as a frequent one.

**Zero division.** A class that is never predicted has no precision (``0 / 0``), a class that
never occurs has no recall, and one that is neither predicted nor present has no F1. These
functions return ``0`` for them, as scikit-learn's ``precision_recall_fscore_support(...,
labels=range(K), zero_division=0)`` does. Macro averages then count such a class as 0 (without
``labels=``, scikit-learn's macro average drops the classes neither present nor predicted).

Only PyTorch is imported: ``import mmcourse.metrics`` never loads scikit-learn.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mmcourse.validate import check_int, check_tensor

__all__ = ["confusion_matrix", "f1_score", "precision", "recall"]


def _check_labels(value: Any, name: str, num_classes: int) -> Tensor:
    """A 1-D integer (or bool) tensor of class indices in ``[0, num_classes)``."""
    check_tensor(value, name, 1, floating=False)  # bool is read as the classes 0 and 1
    if value.numel() and (value.min() < 0 or value.max() >= num_classes):
        raise ValueError(
            f"{name} must hold class indices in [0, {num_classes - 1}] (num_classes="
            f"{num_classes}), got values from {int(value.min())} to {int(value.max())}"
        )
    return value


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Counts of (true class, predicted class) pairs: ``C[i, j] = #{n : target_n = i, pred_n = j}``.

    ``pred`` and ``target`` are ``(N,)`` integer tensors of class indices in
    ``[0, num_classes)`` (``pred = logits.argmax(dim=1)``; a bool tensor counts as 0 and 1), on
    the same device. Returns a ``(num_classes, num_classes)`` int64 tensor on that device, rows
    the true class and columns the predicted one, as ``sklearn.metrics.confusion_matrix(target,
    pred, labels=range(num_classes))``. Every row and column exists even for a class that never
    occurs; ``N = 0`` gives zeros. Computed as one ``bincount`` of ``target * K + pred``.
    """
    num_classes = check_int(num_classes, "num_classes", 1)
    pred = _check_labels(pred, "pred", num_classes)
    target = _check_labels(target, "target", num_classes)
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape (one prediction per sample), got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if pred.device != target.device:
        raise ValueError(
            f"pred and target must be on the same device, got {pred.device} and {target.device}"
        )
    index = target.long() * num_classes + pred.long()
    counts = torch.bincount(index, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes)


def _check_confusion(confusion: Any) -> Tensor:
    check_tensor(confusion, "confusion", 2)
    if confusion.dtype == torch.bool or confusion.is_complex():
        raise TypeError(f"confusion must be a real tensor of counts, got dtype {confusion.dtype}")
    if confusion.shape[0] != confusion.shape[1] or confusion.shape[0] == 0:
        raise ValueError(
            f"confusion must be a square (K, K) matrix with K >= 1, got shape "
            f"{tuple(confusion.shape)}"
        )
    if not bool(torch.isfinite(confusion).all()) or bool((confusion < 0).any()):
        raise ValueError(
            f"confusion must hold finite counts >= 0, got values from {confusion.min().item()} "
            f"to {confusion.max().item()}"
        )
    if confusion.is_floating_point():
        return confusion
    return confusion.to(torch.get_default_dtype())


def _ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator``, and 0 where ``denominator == 0`` (``zero_division=0``)."""
    empty = denominator == 0
    return torch.where(
        empty, torch.zeros_like(numerator), numerator / denominator.masked_fill(empty, 1)
    )


def precision(confusion: Tensor) -> Tensor:
    """Per-class precision ``TP_k / (TP_k + FP_k) = C[k, k] / sum_i C[i, k]``: ``(K, K) -> (K,)``.

    Of the samples predicted as class ``k`` (column ``k``), the share that truly are ``k``;
    0 for a class that is never predicted (scikit-learn's ``zero_division=0``). Integer counts
    give the default float dtype; ``precision(C).mean()`` is the macro average.
    """
    confusion = _check_confusion(confusion)
    return _ratio(confusion.diagonal(), confusion.sum(dim=0))


def recall(confusion: Tensor) -> Tensor:
    """Per-class recall ``TP_k / (TP_k + FN_k) = C[k, k] / sum_j C[k, j]``: ``(K, K) -> (K,)``.

    Of the samples of class ``k`` (row ``k``), the share predicted as ``k``: the per-class
    accuracy. 0 for a class that never occurs (scikit-learn's ``zero_division=0``).
    ``recall(C).mean()`` is the macro average ("balanced accuracy" when every class occurs).
    """
    confusion = _check_confusion(confusion)
    return _ratio(confusion.diagonal(), confusion.sum(dim=1))


def f1_score(confusion: Tensor) -> Tensor:
    """Per-class F1 ``2 TP_k / (2 TP_k + FP_k + FN_k)``: ``(K, K) -> (K,)``.

    The harmonic mean ``2 P R / (P + R)`` of precision and recall wherever ``TP_k > 0``; 0 when
    ``TP_k = 0`` and 0 for a class neither present nor predicted (scikit-learn's
    ``zero_division=0``). ``f1_score(C).mean()`` is the macro average.
    """
    confusion = _check_confusion(confusion)
    tp = confusion.diagonal()
    wrong = confusion.sum(dim=0) + confusion.sum(dim=1) - 2 * tp  # FP_k + FN_k
    return _ratio(2 * tp, 2 * tp + wrong)
