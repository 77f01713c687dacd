"""Checkers for the fusion exercises (exercises/08_fusion.md)."""

from __future__ import annotations

import math
from typing import Any

import torch

from mmcourse.check._core import CheckFailed, as_int, as_tensor, call, checker, expect_close, passed


def _features(dims: list[int], n: int, g: torch.Generator) -> list[torch.Tensor]:
    return [torch.randn(n, d, generator=g) for d in dims]


def _describe(features: list[torch.Tensor]) -> str:
    return "features of shapes " + ", ".join(str(tuple(f.shape)) for f in features)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.detach().double(), b.double(), atol=1e-5)


@checker
def concat_fusion(fn: Any) -> None:
    """Check ``fn(features, weight, bias) -> W [x_1; ...; x_M] + b`` of shape ``(N, out)``."""
    g = torch.Generator().manual_seed(80)
    cases = [([3, 5], 4, 6), ([2], 3, 1), ([4, 1, 6], 5, 3), ([8, 8], 2, 4)]
    for dims, out, n in cases:
        features = _features(dims, n, g)
        weight = torch.randn(out, sum(dims), generator=g)
        bias = torch.randn(out, generator=g)
        case = f"for {_describe(features)}, weight {tuple(weight.shape)} and bias {(out,)}"
        expected = torch.cat(features, 1) @ weight.T + bias
        result = as_tensor(
            call(fn, "concat_fusion", case, [f.clone() for f in features], weight, bias), case
        )
        hint = ""
        if result.shape == expected.shape and _same(result, torch.cat(features, 1) @ weight.T):
            hint = "The bias is missing."
        elif result.shape != expected.shape and result.shape[0] == n * len(dims):
            hint = "Concatenate along the feature dimension (dim=1), not the batch (dim=0)."
        expect_close(result, expected, case, hint)
    passed("concat_fusion", len(cases))


@checker
def weighted_sum_fusion(fn: Any) -> None:
    """Check ``fn(features, projections, scores)``: ``sum_m softmax(scores)_m (W_m x_m + b_m)``."""
    g = torch.Generator().manual_seed(81)
    cases = [([3, 5], 4, 6), ([2, 2, 7], 3, 2), ([6], 5, 1), ([4, 9], 2, 3)]
    for dims, out, n in cases:
        features = _features(dims, n, g)
        projections = [
            (torch.randn(out, d, generator=g), torch.randn(out, generator=g)) for d in dims
        ]
        scores = torch.randn(len(dims), generator=g) * 2
        case = f"for {_describe(features)}, out size {out} and scores {scores.numpy().round(2)}"
        projected = [f @ w.T + b for f, (w, b) in zip(features, projections, strict=True)]
        weights = torch.softmax(scores, 0)
        expected = sum(w * p for w, p in zip(weights, projected, strict=True))
        result = as_tensor(
            call(
                fn,
                "weighted_sum_fusion",
                case,
                [f.clone() for f in features],
                projections,
                scores.clone(),
            ),
            case,
        )
        hint = ""
        if _same(result, sum(s * p for s, p in zip(scores, projected, strict=True))):
            hint = "Turn the scores into weights first: softmax over the modalities."
        elif _same(result, sum(projected) / len(projected)):
            hint = "You averaged the projections: weight modality m by softmax(scores)[m]."
        expect_close(result, expected, case, hint)
    passed("weighted_sum_fusion", len(cases))


@checker
def tensor_fusion_size(fn: Any) -> None:
    """Check ``fn(dims) -> int``: the length of ``[x_1; 1] ⊗ ... ⊗ [x_M; 1]``."""
    cases = [[32, 32, 128], [1], [4, 4], [2, 3, 4], [64, 16], [10, 1, 1, 3], [7]]
    for dims in cases:
        expected = math.prod(d + 1 for d in dims)
        case = f"for feature sizes {dims}"
        got = as_int(call(fn, "tensor_fusion_size", case, list(dims)), case, expected)
        if got != expected:
            hint = ""
            if got == math.prod(dims):
                hint = "Each vector gets a 1 appended before the outer product: use d_m + 1."
            elif got == sum(d + 1 for d in dims):
                hint = "An outer product multiplies the sizes; adding them gives concatenation."
            elif got == math.prod(dims) + 1:
                hint = "The 1 is appended to every modality, not once to the result."
            raise CheckFailed(
                f"{case} you returned {got}, expected {expected}" + (f". {hint}" if hint else "")
            )
    passed("tensor_fusion_size", len(cases))


@checker
def masked_late_fusion(fn: Any) -> None:
    """Check ``fn(log_probs (N, M, C), mask (N, M)) -> (N, C)``: mean over present modalities."""
    g = torch.Generator().manual_seed(83)
    masks = [
        torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
        torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]),
        torch.tensor([[1.0]]),
        torch.tensor([[True, False, True, True]]),
    ]
    for mask in masks:
        n, m = mask.shape
        log_probs = torch.log_softmax(torch.randn(n, m, 5, generator=g), -1)
        weights = mask.float() / mask.float().sum(1, keepdim=True)
        expected = (weights[..., None] * log_probs).sum(1)
        case = (
            f"for log-probabilities of shape {tuple(log_probs.shape)} "
            f"and mask {mask.int().tolist()}"
        )
        result = as_tensor(
            call(fn, "masked_late_fusion", case, log_probs.clone(), mask.clone()), case
        )
        hint = ""
        if _same(result, (mask.float()[..., None] * log_probs).sum(1) / m):
            hint = "Divide by the number of modalities present in each sample, not by M."
        elif _same(result, log_probs.mean(1)):
            hint = "The mask is ignored: missing modalities must not vote."
        elif _same(result, (mask.float()[..., None] * log_probs).sum(1)):
            hint = "That is the sum; take the mean over the present modalities."
        expect_close(result, expected, case, hint)
    passed("masked_late_fusion", len(masks))
