"""The loss checkers' own messages (cross-entropy and InfoNCE), on the loss (a tensor, one number,
finite) and its gradient. Their typical mistakes are tested from their tables in
tests/test_checkers.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.losses import info_nce as library_info_nce


def unstable(logits, target):
    p = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(p[torch.arange(len(target)), target]).mean()


def rebuilt(logits, target):  # requires grad, but no gradient reaches the logits
    return torch.tensor(F.cross_entropy(logits, target).item(), requires_grad=True)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda z, y: F.cross_entropy(z, y).item(), r"the Python number .*\(no \.item\(\)\)"),
        (lambda z, y: F.cross_entropy(z, y, reduction="none"), r"shape \(4,\), expected a single"),
        (unstable, r"\(large logits\): your loss is (nan|inf).*log-sum-exp"),
        (rebuilt, "has the right value but no gradient"),
        (lambda z, y: F.cross_entropy(z * 1.1, y) + 0.001, r"your loss is 2\.4\d+, expected 2\.42"),
        (lambda z, y: 2 * F.cross_entropy(z, y) - F.cross_entropy(z, y).detach(), "your gradient"),
    ],
)
def test_cross_entropy_says_what_is_wrong_with_the_loss(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.cross_entropy(wrong)


def _cosine_logits(a, b, temperature):
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature


def naive_info_nce(a, b, temperature):  # exp() of logits up to 1 / temperature
    p = torch.exp(_cosine_logits(a, b, temperature))
    rows = torch.log(p.diagonal() / p.sum(dim=1)).mean()
    columns = torch.log(p.diagonal() / p.sum(dim=0)).mean()
    return -(rows + columns) / 2


def per_pair_info_nce(a, b, temperature):
    s, pair = _cosine_logits(a, b, temperature), torch.arange(len(a))
    none = dict(reduction="none")
    return (F.cross_entropy(s, pair, **none) + F.cross_entropy(s.T, pair, **none)) / 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda a, b, t: library_info_nce(a, b, t).item(), r"the Python number .*no \.item"),
        (per_pair_info_nce, r"shape \(4,\), expected a single .*the mean over the pairs$"),
        (naive_info_nce, r"temperature=0\.01: your loss is (nan|inf).*log-sum-exp"),
        (
            lambda a, b, t: torch.tensor(library_info_nce(a, b, t).item(), requires_grad=True),
            "right value but no gradient: .* on a and b",
        ),
    ],
)
def test_info_nce_says_what_is_wrong_with_the_loss(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.info_nce(wrong)
