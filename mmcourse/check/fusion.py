"""Checkers for the fusion exercises (exercises/08_fusion.md), on ``mmcourse.fusion``."""

from __future__ import annotations

import math

import torch

from mmcourse.check._core import Exact, Mistake, case, exercise


def _features(dims: list[int], n: int, g: torch.Generator) -> list[torch.Tensor]:
    return [torch.randn(n, d, generator=g) for d in dims]


# Task 1: concatenation fusion, W [x_1; ...; x_M] + b
def _concat_cases():
    g = torch.Generator().manual_seed(80)
    cases = []
    for dims, out, n in [([8, 8], 2, 4), ([3, 5], 4, 6), ([2], 3, 1), ([4, 1, 6], 5, 3)]:
        features = _features(dims, n, g)
        weight = torch.randn(out, sum(dims), generator=g)
        cases.append(case(features, weight, torch.randn(out, generator=g)))
    return cases


@exercise(
    cases=_concat_cases,
    mistakes=[
        Mistake("The bias is missing.", lambda f, w, b: torch.cat(f, 1) @ w.T),
        Mistake(
            "Concatenate along the feature dimension (dim=1), not the batch (dim=0).",
            lambda f, w, b: torch.cat(f, 0),
        ),
    ],
)
def concat_fusion(features, weight, bias):
    """Check ``fn(features, weight, bias) -> W [x_1; ...; x_M] + b`` of shape ``(N, out)``."""
    return torch.cat(features, 1) @ weight.T + bias


# Task 2: weighted sum, sum_m softmax(scores)_m (W_m x_m + b_m)
def _weighted_cases():
    g = torch.Generator().manual_seed(81)
    cases = []
    for dims, out, n in [([3, 5], 4, 6), ([2, 2, 7], 3, 2), ([6], 5, 1), ([4, 9], 2, 3)]:
        features = _features(dims, n, g)
        projections = [
            (torch.randn(out, d, generator=g), torch.randn(out, generator=g)) for d in dims
        ]
        cases.append(case(features, projections, torch.randn(len(dims), generator=g) * 2))
    return cases


def _weighted(features, projections, weights):
    return sum(
        w * (x @ W.T + b) for w, x, (W, b) in zip(weights, features, projections, strict=True)
    )


@exercise(
    cases=_weighted_cases,
    describe=lambda f, p, s: (
        f"for features of shapes {', '.join(str(tuple(x.shape)) for x in f)}, out size "
        f"{p[0][1].numel()} and scores {s.numpy().round(2)}"
    ),
    mistakes=[
        Mistake("Turn the scores into weights first: softmax over the modalities.", _weighted),
        Mistake(
            "You averaged the projections: weight modality m by softmax(scores)[m].",
            lambda f, p, s: _weighted(f, p, torch.ones(len(f)) / len(f)),
        ),
    ],
)
def weighted_sum_fusion(features, projections, scores):
    """Check ``fn(features, projections, scores)``: ``sum_m softmax(scores)_m (W_m x_m + b_m)``."""
    return _weighted(features, projections, torch.softmax(scores, 0))


# Task 3: the length of [x_1; 1] ⊗ ... ⊗ [x_M; 1]
@exercise(
    cases=lambda: [
        case(dims) for dims in ([32, 32, 128], [1], [4, 4], [2, 3, 4], [64, 16], [10, 1, 1, 3], [7])
    ],
    compare=Exact(),
    mistakes=[
        Mistake(
            "Each vector gets a 1 appended before the outer product: use d_m + 1.",
            lambda dims: math.prod(dims),
        ),
        Mistake(
            "An outer product multiplies the sizes; adding them gives concatenation.",
            lambda dims: sum(d + 1 for d in dims),
        ),
        Mistake(
            "The 1 is appended to every modality, not once to the result.",
            lambda dims: math.prod(dims) + 1,
        ),
    ],
)
def tensor_fusion_size(dims):
    """Check ``fn(dims) -> int``: the length of ``[x_1; 1] ⊗ ... ⊗ [x_M; 1]``."""
    return math.prod(d + 1 for d in dims)


# Task 4: late fusion that survives a missing modality
def _late_cases():
    g = torch.Generator().manual_seed(83)
    masks = [
        torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
        torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]),
        torch.tensor([[1.0]]),
        torch.tensor([[True, False, True, True]]),
    ]
    return [
        case(torch.log_softmax(torch.randn(*mask.shape, 5, generator=g), -1), mask)
        for mask in masks
    ]


def _masked_sum(log_probs, mask):
    return (mask.float()[..., None] * log_probs).sum(1)


@exercise(
    cases=_late_cases,
    describe=lambda lp, m: (
        f"for log-probabilities of shape {tuple(lp.shape)} and mask {m.int().tolist()}"
    ),
    mistakes=[
        Mistake(
            "Divide by the number of modalities present in each sample, not by M.",
            lambda lp, m: _masked_sum(lp, m) / lp.shape[1],
        ),
        Mistake("The mask is ignored: missing modalities must not vote.", lambda lp, m: lp.mean(1)),
        Mistake("That is the sum; take the mean over the present modalities.", _masked_sum),
    ],
)
def masked_late_fusion(log_probs, mask):
    """Check ``fn(log_probs (N, M, C), mask (N, M)) -> (N, C)``: mean over present modalities."""
    return _masked_sum(log_probs, mask) / mask.float().sum(1, keepdim=True)
