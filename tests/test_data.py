"""mmcourse.data: the digits and their fixed, stratified split."""

from __future__ import annotations

import pytest
import torch

from mmcourse.data import digits_splits, load_digits


def test_split_is_a_stratified_partition():
    images, labels = load_digits()
    train_idx, val_idx, test_idx = digits_splits(return_indices=True)
    everything = torch.cat([train_idx, val_idx, test_idx])
    assert torch.equal(everything.sort().values, torch.arange(len(labels)))  # disjoint, complete
    assert (len(train_idx), len(val_idx), len(test_idx)) == (1079, 359, 359)
    for idx, fraction in ((val_idx, 0.2), (test_idx, 0.2)):
        counts = torch.bincount(labels[idx], minlength=10)
        expected = (torch.bincount(labels, minlength=10) * fraction).round()
        assert (counts - expected).abs().max() <= 1
    train, val, test = digits_splits()
    for (x, y), idx in ((train, train_idx), (val, val_idx), (test, test_idx)):
        assert torch.equal(x, images[idx]) and torch.equal(y, labels[idx])
        assert x.shape[1:] == (1, 8, 8) and x.dtype == torch.float32


def test_split_depends_only_on_the_seed():
    a = digits_splits(seed=0, return_indices=True)
    b = digits_splits(seed=0, return_indices=True)
    c = digits_splits(seed=1, return_indices=True)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[2], c[2])


def test_fractions_change_the_sizes():
    train, val, test = digits_splits(val_fraction=0.1, test_fraction=0.3, return_indices=True)
    assert abs(len(val) - 180) <= 5 and abs(len(test) - 539) <= 5
    assert len(train) + len(val) + len(test) == 1797


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(val_fraction=0.0), ValueError, "val_fraction must be a number strictly between"),
        (dict(test_fraction=1.5), ValueError, "test_fraction must be a number"),
        (dict(val_fraction=0.5, test_fraction=0.5), ValueError, "must be below 1"),
        (dict(seed=1.5), TypeError, "seed must be an int, got float"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        digits_splits(**kwargs)
