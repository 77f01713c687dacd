"""Fusion checkers: right answers pass, typical wrong ones fail with a precise message."""

from __future__ import annotations

import math

import pytest
import torch

from mmcourse.check import CheckFailed
from mmcourse.check import fusion as check
from mmcourse.fusion import outer_product

# Task 1: concatenation fusion


def right_concat(features, weight, bias):
    return torch.cat(features, dim=1) @ weight.T + bias


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda f, w, b: torch.cat(f, dim=1) @ w.T, "bias is missing"),
        (lambda f, w, b: torch.cat(f, dim=0), "not the batch"),
        (lambda f, w, b: torch.cat(f, dim=1) @ w + b, "raised RuntimeError"),
        (lambda f, w, b: (torch.cat(f, dim=1) @ w.T + b).tolist(), "expected a torch.Tensor"),
    ],
)
def test_concat_rejects(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.concat_fusion(wrong)


def test_concat_accepts():
    check.concat_fusion(right_concat)
    check.concat_fusion(lambda f, w, b: torch.nn.functional.linear(torch.cat(f, -1), w, b))


# Task 2: weighted sum


def right_weighted(features, projections, scores):
    weights = torch.softmax(scores, dim=0)
    return sum(
        w * (f @ W.T + b) for w, f, (W, b) in zip(weights, features, projections, strict=True)
    )


def raw_scores(features, projections, scores):
    return sum(
        s * (f @ W.T + b) for s, f, (W, b) in zip(scores, features, projections, strict=True)
    )


def plain_average(features, projections, scores):
    return sum(f @ W.T + b for f, (W, b) in zip(features, projections, strict=True)) / len(features)


def no_projection(features, projections, scores):
    weights = torch.softmax(scores, dim=0)
    return sum(w * f for w, f in zip(weights, features, strict=True))


def test_weighted_accepts():
    check.weighted_sum_fusion(right_weighted)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (raw_scores, "softmax over the modalities"),
        (plain_average, "You averaged the projections"),
        (no_projection, "raised RuntimeError|your result has shape"),
    ],
)
def test_weighted_rejects(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.weighted_sum_fusion(wrong)


# Task 3: tensor-fusion size


def test_size_accepts_and_matches_the_library():
    check.tensor_fusion_size(lambda dims: math.prod(d + 1 for d in dims))
    check.tensor_fusion_size(lambda dims: outer_product([torch.zeros(1, d) for d in dims]).shape[1])


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda dims: math.prod(dims), "use d_m \\+ 1"),
        (lambda dims: sum(d + 1 for d in dims), "adding them gives concatenation"),
        (lambda dims: math.prod(dims) + 1, "not once to the result"),
        (lambda dims: float(math.prod(d + 1 for d in dims)), "a float"),
    ],
)
def test_size_rejects(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.tensor_fusion_size(wrong)


# Task 4: late fusion that survives a missing modality


def right_late(log_probs, mask):
    mask = mask.float()
    return (mask[..., None] * log_probs).sum(1) / mask.sum(1, keepdim=True)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda lp, m: (m.float()[..., None] * lp).sum(1) / lp.shape[1], "not by M"),
        (lambda lp, m: lp.mean(1), "mask is ignored"),
        (lambda lp, m: (m.float()[..., None] * lp).sum(1), "That is the sum"),
        (lambda lp, m: lp.mean(2), "shape"),
    ],
)
def test_late_rejects(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.masked_late_fusion(wrong)


def test_late_accepts():
    check.masked_late_fusion(right_late)
