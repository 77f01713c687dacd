"""The convolution checkers' custom part: the edge kernel, judged by its responses. The declared
tasks are tested from their tables in tests/test_checkers.py."""

from __future__ import annotations

import pytest
import torch

from mmcourse import check
from mmcourse.check import CheckFailed

SOBEL_X = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])


@pytest.mark.parametrize(
    "answer",
    [
        SOBEL_X,
        -SOBEL_X,  # the sign only says which way the edge goes
        torch.tensor([[0.0, 0, 0], [-1, 0, 1], [0, 0, 0]]),  # a plain difference
        SOBEL_X.tolist(),
        SOBEL_X.numpy(),
        SOBEL_X[None, None],
        lambda: SOBEL_X,
    ],
)
def test_edge_kernel_accepts_right_answers(answer):
    check.vertical_edge_kernel(answer)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (SOBEL_X.T, "responds to a horizontal edge but not at all to a vertical one"),
        (SOBEL_X + SOBEL_X.T, "responds to a horizontal edge too"),
        (torch.full((3, 3), 1 / 9), "responds to a flat gray image"),
        (torch.zeros(3, 3), "no response"),
        (torch.eye(3), "responds to a flat gray image"),
        (torch.ones(2, 2), r"shape \(2, 2\); expected \(3, 3\)"),
        ("sobel", "expected a 3×3 torch.Tensor"),
        (torch.full((3, 3), float("nan")), "NaN"),
    ],
)
def test_edge_kernel_rejects_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.vertical_edge_kernel(wrong)
