"""The cross-entropy checker's own messages, on the loss (a tensor, one number, finite) and its
gradient. Its typical mistakes are tested from its table in tests/test_checkers.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.losses import cross_entropy as library_cross_entropy


def unstable(logits, target):
    p = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(p[torch.arange(len(target)), target]).mean()


def rebuilt(logits, target):  # requires grad, but no gradient reaches the logits
    return torch.tensor(F.cross_entropy(logits, target).item(), requires_grad=True)


def test_the_library_cross_entropy_passes():
    check.cross_entropy(library_cross_entropy)


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
