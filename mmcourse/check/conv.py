"""Checkers for the convolution exercises (exercises/02_convolution.md)."""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F

from mmcourse.check._core import (
    CheckFailed,
    as_int,
    as_tensor,
    call,
    checker,
    expect_close,
    expect_shape,
    passed,
)

# (size, kernel_size, stride, padding, dilation): hand-picked traps, then seeded random cases.
_SIZE_CASES = [
    (7, 3, 2, 1, 1),
    (8, 3, 1, 0, 1),
    (5, 3, 1, 1, 2),
    (10, 4, 3, 2, 1),
    (28, 5, 1, 2, 1),
    (9, 3, 2, 0, 3),
    (1, 1, 1, 0, 1),
    (6, 2, 2, 0, 1),
    (32, 3, 2, 1, 2),
    (11, 5, 4, 1, 1),
]


def _size_cases() -> list[tuple[int, int, int, int, int]]:
    rng = random.Random(2)
    cases = list(_SIZE_CASES)
    while len(cases) < 40:
        k, d, p, s = rng.randint(1, 7), rng.randint(1, 3), rng.randint(0, 3), rng.randint(1, 4)
        size = rng.randint(1, 40)
        if d * (k - 1) + 1 <= size + 2 * p:
            cases.append((size, k, s, p, d))
    return cases


def _true_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


# Typical mistakes, each as the formula it amounts to, with what to tell the learner.
_SIZE_MISTAKES = [
    (
        lambda n, k, s, p, d: (n + 2 * p - (k - 1) - 1) // s + 1,
        "Did you forget the dilation? A dilated kernel spans d*(k-1)+1 inputs.",
    ),
    (
        lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,
        "Padding is added on both sides: the padded size is size + 2*padding.",
    ),
    (
        lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1,
        "Round down, not up: a window that does not fit entirely is dropped.",
    ),
    (
        lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
        "Count the first window too: the formula ends in + 1.",
    ),
]


def _size_hint(answers: list[tuple[tuple[int, ...], int]]) -> str:
    """The hint of the one typical mistake that explains every answer, if there is one."""
    for formula, hint in _SIZE_MISTAKES:
        if all(formula(*case) == got for case, got in answers):
            return hint
    return ""


@checker
def conv_output_size(fn: Any) -> None:
    """Check ``fn(size, kernel_size, stride, padding, dilation) -> int``."""
    cases = _size_cases()
    answers = []
    for size, k, s, p, d in cases:
        case = f"for an input of size {size}, kernel {k}, stride {s}, padding {p}, dilation {d}"
        expected = _true_size(size, k, s, p, d)
        got = as_int(call(fn, "conv_output_size", case, size, k, s, p, d), case, expected)
        answers.append(((size, k, s, p, d), got))
    for (size, k, s, p, d), got in answers:
        expected = _true_size(size, k, s, p, d)
        if got != expected:
            hint = _size_hint(answers)
            raise CheckFailed(
                f"for an input of size {size}, kernel {k}, stride {s}, padding {p}, "
                f"dilation {d} you returned {got}, expected {expected}"
                + (f". {hint}" if hint else "")
            )
    passed("conv_output_size", len(cases))


def _conv_cases() -> list[dict]:
    """Hidden cases for conv2d: shapes, stride and padding a learner tends to get wrong."""
    g = torch.Generator().manual_seed(3)
    specs = [  # (N, C, H, W, O, kH, kW, stride, padding, bias)
        (1, 1, 5, 5, 1, 3, 3, 1, 0, False),
        (2, 1, 6, 6, 1, 3, 3, 1, 1, True),
        (1, 3, 7, 6, 4, 3, 2, 2, 1, True),
        (3, 2, 9, 5, 2, 3, 3, 2, 0, True),
        (1, 2, 8, 8, 3, 5, 5, 3, 2, True),
        (2, 4, 4, 7, 5, 1, 3, 1, 1, False),
    ]
    cases = []
    for n, c, h, w, o, kh, kw, stride, padding, has_bias in specs:
        cases.append(
            {
                "x": torch.randn(n, c, h, w, generator=g),
                "weight": torch.randn(o, c, kh, kw, generator=g),
                "bias": torch.randn(o, generator=g) if has_bias else None,
                "stride": stride,
                "padding": padding,
            }
        )
    return cases


def _conv_hint(result: torch.Tensor, case: dict) -> str:
    x, w, b = case["x"], case["weight"], case["bias"]
    s, p = case["stride"], case["padding"]

    def same(other: torch.Tensor) -> bool:
        return other.shape == result.shape and torch.allclose(
            result.detach().double().cpu(), other.double(), atol=1e-4, rtol=1e-4
        )

    if same(F.conv2d(x, w.flip(-1, -2), b, s, p)):
        return (
            "Your result is a true convolution (kernel flipped). PyTorch's conv2d computes "
            "cross-correlation: use w[o, c, u, v] as it is, without flipping."
        )
    if b is not None and same(F.conv2d(x, w, None, s, p)):
        return "The bias is missing: add bias[o] to every position of output channel o."
    if b is not None and same(F.conv2d(x, w, None, s, p) + b.sum()):
        return "Add bias[o] to output channel o only, not the sum of all biases."
    if same(F.conv2d(x, w, b, s, p).sum(1, keepdim=True).expand_as(result)):
        return "Each output channel o needs its own kernel weight[o]; do not sum over them."
    return ""


@checker
def conv2d(fn: Any) -> None:
    """Check ``fn(x, weight, bias=None, stride=1, padding=0)`` against ``F.conv2d``."""
    cases = _conv_cases()
    for case in cases:
        x, w, b = case["x"], case["weight"], case["bias"]
        s, p = case["stride"], case["padding"]
        description = (
            f"for an input of shape {tuple(x.shape)}, weight {tuple(w.shape)}, "
            f"{'a bias' if b is not None else 'no bias'}, stride {s}, padding {p}"
        )
        expected = F.conv2d(x, w, b, s, p)
        result = call(
            fn,
            "conv2d",
            description,
            x.clone(),
            w.clone(),
            None if b is None else b.clone(),
            stride=s,
            padding=p,
        )
        result = as_tensor(result, description)
        if tuple(result.shape) != tuple(expected.shape):
            h_out, w_out = expected.shape[-2:]
            expect_shape(
                result,
                expected.shape,
                description,
                f"With padding {p} and stride {s} the output is {h_out}×{w_out}: "
                "pad both sides first, then move the window by the stride.",
            )
        expect_close(result, expected, description, _conv_hint(result, case))
    passed("conv2d", len(cases))


def _edge_images() -> dict[str, torch.Tensor]:
    """8×8 test images: a vertical step, a horizontal step, and a flat gray image."""
    vertical = torch.zeros(1, 1, 8, 8)
    vertical[..., :, 4:] = 1.0
    return {
        "vertical edge": vertical,
        "horizontal edge": vertical.transpose(-1, -2).contiguous(),
        "flat image": torch.full((1, 1, 8, 8), 0.7),
    }


@checker
def vertical_edge_kernel(kernel: Any) -> None:
    """Check a 3×3 kernel that responds to vertical edges and to nothing else.

    ``kernel`` is the kernel itself or a function of no arguments that returns it.
    """
    if callable(kernel) and not isinstance(kernel, torch.Tensor):
        kernel = call(kernel, "vertical_edge_kernel", "when called")
    if isinstance(kernel, torch.Tensor):
        k = kernel.detach().double().cpu()
    else:
        try:
            k = torch.as_tensor(kernel, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailed(
                f"your kernel is a {type(kernel).__name__}; expected a 3×3 torch.Tensor "
                "(or a nested list of numbers)"
            ) from None
    if k.numel() != 9 or k.squeeze().shape != (3, 3):
        raise CheckFailed(f"your kernel has shape {tuple(k.shape)}; expected (3, 3)")
    k = k.reshape(1, 1, 3, 3)
    if not torch.isfinite(k).all():
        raise CheckFailed("your kernel contains NaN or infinity")
    images = _edge_images()
    response = {
        name: F.conv2d(image.double(), k).abs().max().item() for name, image in images.items()
    }
    if response["vertical edge"] < 1e-6 and response["horizontal edge"] > 1e-6:
        raise CheckFailed(
            "your kernel responds to a horizontal edge but not at all to a vertical one: it "
            "compares rows (top and bottom), while a vertical edge is a change from left to "
            "right, between columns"
        )
    if response["vertical edge"] < 1e-6:
        raise CheckFailed(
            "your kernel gives no response on an image with a vertical edge (left half 0, "
            "right half 1): its output is 0 everywhere"
        )
    scale = k.abs().sum().item()
    if abs(k.sum().item()) > 1e-6 * scale:
        raise CheckFailed(
            f"your kernel responds to a flat gray image (strongest output "
            f"{response['flat image']:.3f}): its entries sum to {k.sum().item():.3f}, and an "
            "edge detector's entries must sum to 0 so that constant regions give 0"
        )
    ratio = response["horizontal edge"] / response["vertical edge"]
    if ratio > 0.05:
        raise CheckFailed(
            f"your kernel responds to a horizontal edge too: its strongest output there is "
            f"{ratio:.0%} of the one on a vertical edge (at most 5% allowed). A vertical edge "
            "is a change from left to right, so the kernel should compare its left and right "
            "columns and treat every row alike"
        )
    passed("vertical_edge_kernel", len(images))


_COST_CASES = [  # in_channels, out_channels, kernel_size, height, width, stride, padding, bias
    (1, 8, 3, 8, 8, 1, 1, True),
    (3, 16, 5, 32, 32, 1, 0, True),
    (16, 32, 3, 28, 28, 2, 1, False),
    (64, 64, 1, 14, 14, 1, 0, True),
    (8, 4, 3, 9, 7, 2, 0, True),
    (2, 3, 7, 20, 10, 3, 3, False),
]


def _true_cost(c, o, k, h, w, s, p, bias) -> tuple[int, int]:
    layer = torch.nn.Conv2d(c, o, k, stride=s, padding=p, bias=bias)
    params = sum(t.numel() for t in layer.parameters())
    h_out = (h + 2 * p - k) // s + 1
    w_out = (w + 2 * p - k) // s + 1
    return params, o * h_out * w_out * c * k * k


def _cost_hint(got: tuple[int, int], c, o, k, h, w, s, p, bias) -> str:
    params, macs = _true_cost(c, o, k, h, w, s, p, bias)
    if got[0] != params:
        if bias and got[0] == params - o:
            return "Count the bias: one per output channel."
        if not bias and got[0] == params + o:
            return "This layer has bias=False: no bias parameters."
        if got[0] == o * k * k + (o if bias else 0):
            return "Each output channel has one k×k kernel per input channel."
    elif got[1] != macs:
        if got[1] == o * h * w * c * k * k:
            return "Count one multiply-add per *output* position, not per input pixel."
        if got[1] == params * (macs // (o * c * k * k)):
            return "The bias is an addition, not a multiply-add: count only weight products."
    return ""


@checker
def conv_layer_cost(fn: Any) -> None:
    """Check ``fn(in_ch, out_ch, kernel_size, height, width, stride, padding, bias)``."""
    for c, o, k, h, w, s, p, bias in _COST_CASES:
        case = (
            f"for Conv2d({c}, {o}, kernel_size={k}, stride={s}, padding={p}, bias={bias}) "
            f"on a {h}×{w} input"
        )
        expected = _true_cost(c, o, k, h, w, s, p, bias)
        got = call(fn, "conv_layer_cost", case, c, o, k, h, w, stride=s, padding=p, bias=bias)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise CheckFailed(
                f"{case} you returned {got!r:.60}; expected a pair (parameters, multiply_adds)"
            )
        got = (
            as_int(got[0], case, expected[0], "your parameter count is"),
            as_int(got[1], case, expected[1], "your multiply-add count is"),
        )
        if got != expected:
            hint = _cost_hint(got, c, o, k, h, w, s, p, bias)
            raise CheckFailed(
                f"{case} you returned (parameters={got[0]}, multiply_adds={got[1]}), expected "
                f"(parameters={expected[0]}, multiply_adds={expected[1]})"
                + (f". {hint}" if hint else "")
            )
    passed("conv_layer_cost", len(_COST_CASES))
