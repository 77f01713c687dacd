"""mmcourse.metrics against scikit-learn: confusion matrix, precision, recall, F1, zero division."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mmcourse.metrics import confusion_matrix, f1_score, precision, recall


def _sklearn(pred, target, k):
    """scikit-learn's confusion matrix and per-class and macro P, R, F1 (zero_division=0)."""
    y_true, y_pred, labels = target.numpy(), pred.numpy(), list(range(k))
    with warnings.catch_warnings():  # it warns on one label even when labels= is given
        warnings.filterwarnings("ignore", message="A single label was found")
        matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    per_class = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )[:3]
    macro = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )[:3]
    return matrix, per_class, macro


def _assert_matches_sklearn(pred, target, k):
    matrix, per_class, macro = _sklearn(pred, target, k)
    ours = confusion_matrix(pred, target, k)
    assert ours.shape == (k, k) and ours.dtype == torch.int64
    np.testing.assert_array_equal(ours.numpy(), matrix)
    for fn, ref, ref_macro in zip((precision, recall, f1_score), per_class, macro, strict=True):
        value = fn(ours)
        assert value.shape == (k,) and value.dtype == torch.get_default_dtype()
        np.testing.assert_allclose(value.numpy(), ref, rtol=1e-6, atol=1e-7)
        assert value.mean().item() == pytest.approx(ref_macro, rel=1e-6, abs=1e-7)
    # Accuracy is the diagonal's share, as scikit-learn's accuracy_score.
    accuracy = (ours.trace() / ours.sum()).item()
    assert accuracy == pytest.approx(skm.accuracy_score(target.numpy(), pred.numpy()))


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 40),
    k=st.integers(1, 8),
    data=st.data(),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_sklearn_on_random_cases(n, k, data, seed):
    # Each side draws from its own subset of the classes, so that some classes never occur,
    # some are never predicted, and some are neither.
    present = data.draw(st.lists(st.integers(0, k - 1), min_size=1, unique=True), "present")
    guessed = data.draw(st.lists(st.integers(0, k - 1), min_size=1, unique=True), "guessed")
    g = torch.Generator().manual_seed(seed)
    target = torch.tensor(present)[torch.randint(len(present), (n,), generator=g)]
    pred = torch.tensor(guessed)[torch.randint(len(guessed), (n,), generator=g)]
    # Half the time, make most predictions right (a trained classifier, not noise).
    if seed % 2:
        right = torch.rand(n, generator=g) < 0.7
        pred = torch.where(right, target, pred)
    _assert_matches_sklearn(pred, target, k)


@pytest.mark.parametrize(
    ("pred", "target", "k"),
    [
        ([0], [0], 1),  # K = 1, N = 1
        ([0, 0, 0], [0, 0, 0], 1),  # K = 1
        ([2], [0], 3),  # N = 1, wrong: every class has P = R = F1 = 0
        ([1], [1], 4),  # N = 1, right: three classes absent and never predicted
        ([0, 0, 0, 0, 0], [0, 1, 2, 1, 0], 3),  # classes 1 and 2 never predicted
        ([0, 1, 1, 0], [0, 0, 1, 1], 5),  # classes 2, 3, 4 neither present nor predicted
        ([3, 3, 0, 1], [0, 1, 0, 1], 4),  # class 3 predicted but never present
    ],
)
def test_matches_sklearn_on_awkward_cases(pred, target, k):
    _assert_matches_sklearn(torch.tensor(pred), torch.tensor(target), k)


def test_a_constant_majority_predictor():
    # 90 samples of class 0 and 10 of class 1, all predicted 0: 90% accuracy, no class 1 found.
    target = torch.cat([torch.zeros(90, dtype=torch.long), torch.ones(10, dtype=torch.long)])
    matrix = confusion_matrix(torch.zeros(100, dtype=torch.long), target, 2)
    assert matrix.tolist() == [[90, 0], [10, 0]]
    torch.testing.assert_close(recall(matrix), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(precision(matrix), torch.tensor([0.9, 0.0]))  # 0/0 -> 0
    torch.testing.assert_close(f1_score(matrix), torch.tensor([2 * 0.9 / 1.9, 0.0]))


def test_counts_dtypes_devices_and_empty_input():
    matrix = confusion_matrix(torch.tensor([True, False, True]), torch.tensor([1, 1, 0]), 2)
    assert matrix.tolist() == [[0, 1], [1, 1]]  # a bool tensor is the classes 0 and 1
    assert confusion_matrix(torch.tensor([1, 2], dtype=torch.uint8), torch.tensor([2, 2]), 3)[
        2
    ].tolist() == [0, 1, 1]
    empty = confusion_matrix(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 3)
    assert empty.tolist() == [[0] * 3] * 3
    assert (
        precision(empty).tolist() == recall(empty).tolist() == f1_score(empty).tolist() == [0] * 3
    )
    # Float counts (weights, sums over runs) keep their dtype; the results are exact ratios.
    weighted = torch.tensor([[2.5, 0.5], [0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(
        precision(weighted), torch.tensor([1.0, 1 / 1.5], dtype=torch.float64)
    )
    torch.testing.assert_close(recall(weighted), torch.tensor([2.5 / 3, 1.0], dtype=torch.float64))


def test_importing_metrics_does_not_load_sklearn():
    code = (
        "import sys, mmcourse.metrics;"
        "print(' '.join(m for m in ('sklearn', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


_LONG = torch.tensor([0, 1])


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((torch.tensor([0.0, 1.0]), _LONG, 2), TypeError, "pred.*integer tensor.*float32"),
        ((_LONG, [0, 1], 2), TypeError, "target.*torch.Tensor.*list"),
        ((_LONG.view(1, 2), _LONG.view(1, 2), 2), ValueError, r"pred.*1-D.*2-D.*\(1, 2\)"),
        ((_LONG, torch.tensor([0, 3]), 3), ValueError, r"target.*\[0, 2\].*from 0 to 3"),
        ((torch.tensor([-1, 0]), _LONG, 2), ValueError, r"pred.*\[0, 1\].*from -1 to 0"),
        ((_LONG, torch.tensor([0, 1, 1]), 2), ValueError, r"same shape.*\(2,\).*\(3,\)"),
        ((_LONG, _LONG, 0), ValueError, "num_classes.*>= 1.*got 0"),
        ((_LONG, _LONG, 2.0), TypeError, "num_classes.*int.*float 2.0"),
    ],
)
def test_confusion_matrix_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        confusion_matrix(*args)


@pytest.mark.parametrize("fn", [precision, recall, f1_score])
@pytest.mark.parametrize(
    ("confusion", "error", "message"),
    [
        ([[1, 0], [0, 1]], TypeError, "confusion.*torch.Tensor.*list"),
        (torch.ones(3), ValueError, r"confusion.*2-D.*1-D.*\(3,\)"),
        (torch.ones(2, 3), ValueError, r"square.*\(2, 3\)"),
        (torch.ones(0, 0), ValueError, r"square.*K >= 1.*\(0, 0\)"),
        (torch.tensor([[1, -1], [0, 2]]), ValueError, "counts >= 0.*from -1"),
        (torch.tensor([[1.0, float("nan")], [0.0, 2.0]]), ValueError, "finite counts"),
        (torch.eye(2, dtype=torch.bool), TypeError, "confusion.*real tensor.*torch.bool"),
    ],
)
def test_metrics_reject_bad_confusion_matrices(fn, confusion, error, message):
    with pytest.raises(error, match=message):
        fn(confusion)
