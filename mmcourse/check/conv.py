"""Checkers for the convolution exercises (exercises/02_convolution.md), on ``mmcourse.conv``."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.check import _core
from mmcourse.check._core import CheckFailed, Exact, Mistake, Parts, case, exercise
from mmcourse.conv import conv_output_size as _output_size


# Task 1: the output length, floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1
def _size_cases():
    """(size, kernel_size, stride, padding, dilation): traps, then seeded random ones."""
    cases = [(7, 3, 2, 1, 1), (8, 3, 1, 0, 1), (5, 3, 1, 1, 2), (10, 4, 3, 2, 1), (28, 5, 1, 2, 1)]
    cases += [(9, 3, 2, 0, 3), (1, 1, 1, 0, 1), (6, 2, 2, 0, 1), (32, 3, 2, 1, 2), (11, 5, 4, 1, 1)]
    rng = random.Random(2)
    while len(cases) < 40:
        k, d, p, s = rng.randint(1, 7), rng.randint(1, 3), rng.randint(0, 3), rng.randint(1, 4)
        size = rng.randint(1, 40)
        if d * (k - 1) + 1 <= size + 2 * p:
            cases.append((size, k, s, p, d))
    return [case(*c) for c in cases]


@exercise(
    cases=_size_cases,
    compare=Exact(),
    mistakes=[
        Mistake(
            "Did you forget the dilation? A dilated kernel spans d*(k-1)+1 inputs.",
            lambda n, k, s, p, d: (n + 2 * p - (k - 1) - 1) // s + 1,
        ),
        Mistake(
            "Padding is added on both sides: the padded size is size + 2*padding.",
            lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,
        ),
        Mistake(
            "Round down, not up: a window that does not fit entirely is dropped.",
            lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1,
        ),
        Mistake(
            "Count the first window too: the formula ends in + 1.",
            lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
        ),
    ],
)
def conv_output_size(size, kernel_size, stride, padding, dilation):
    """Check ``fn(size, kernel_size, stride, padding, dilation) -> int``."""
    return _output_size(size, kernel_size, stride, padding, dilation)


# Task 2: conv2d, out[n, o] = sum_c x[n, c] ⋆ weight[o, c] + bias[o], as F.conv2d
def _conv_cases():
    g = torch.Generator().manual_seed(3)
    cases = []
    for n, c, h, w, o, kh, kw, stride, padding, has_bias in [  # (N, C, H, W, O, kH, kW, ...)
        (1, 1, 5, 5, 1, 3, 3, 1, 0, False),
        (2, 1, 6, 6, 1, 3, 3, 1, 1, True),
        (1, 3, 7, 6, 4, 3, 2, 2, 1, True),
        (3, 2, 9, 5, 2, 3, 3, 2, 0, True),
        (1, 2, 8, 8, 3, 5, 5, 3, 2, True),
        (2, 4, 4, 7, 5, 1, 3, 1, 1, False),
    ]:
        x, weight = torch.randn(n, c, h, w, generator=g), torch.randn(o, c, kh, kw, generator=g)
        bias = torch.randn(o, generator=g) if has_bias else None
        cases.append(case(x, weight, bias, stride=stride, padding=padding))
    return cases


def _conv_shape_hint(x, w, b, stride, padding):
    h_out, w_out = F.conv2d(x, w, b, stride, padding).shape[-2:]
    return (
        f"With padding {padding} and stride {stride} the output is {h_out}×{w_out}: "
        "pad both sides first, then move the window by the stride."
    )


@exercise(
    cases=_conv_cases,
    mistakes=[
        Mistake(
            "Your result is a true convolution (kernel flipped). PyTorch's conv2d computes "
            "cross-correlation: use w[o, c, u, v] as it is, without flipping.",
            lambda x, w, b, stride, padding: F.conv2d(x, w.flip(-1, -2), b, stride, padding),
        ),
        Mistake(
            "The bias is missing: add bias[o] to every position of output channel o.",
            lambda x, w, b, stride, padding: F.conv2d(x, w, None, stride, padding),
        ),
        Mistake(
            "Add bias[o] to output channel o only, not the sum of all biases.",
            lambda x, w, b, stride, padding: (
                F.conv2d(x, w, None, stride, padding) + (0 if b is None else b.sum())
            ),
        ),
        Mistake(
            "Each output channel o needs its own kernel weight[o]; do not sum over them.",
            lambda x, w, b, stride, padding: (
                F.conv2d(x, w, b, stride, padding).sum(1, keepdim=True).repeat(1, len(w), 1, 1)
            ),
        ),
    ],
    shape_hint=_conv_shape_hint,
)
def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Check ``fn(x, weight, bias=None, stride=1, padding=0)`` against ``F.conv2d``."""
    return F.conv2d(x, weight, bias, stride, padding)


# Task 3: a kernel that responds to vertical edges and to nothing else (judged by its responses)
@_core.checker
def vertical_edge_kernel(kernel: Any) -> None:
    """Check a 3×3 kernel that responds to vertical edges and to nothing else.

    ``kernel`` is the kernel itself or a function of no arguments that returns it. It is applied
    to 8×8 images: a vertical step, a horizontal step and a flat gray image.
    """
    if callable(kernel) and not isinstance(kernel, torch.Tensor):
        kernel = _core.call(kernel, "vertical_edge_kernel", "when called")
    try:
        k = torch.as_tensor(kernel.detach().cpu() if torch.is_tensor(kernel) else kernel)
        k = k.to(torch.float64)
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
    step = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    step[..., 4:] = 1.0
    images = {"vertical": step, "horizontal": step.mT, "flat": torch.full_like(step, 0.7)}
    response = {name: F.conv2d(image, k).abs().max().item() for name, image in images.items()}
    if response["vertical"] < 1e-6 and response["horizontal"] > 1e-6:
        raise CheckFailed(
            "your kernel responds to a horizontal edge but not at all to a vertical one: it "
            "compares rows (top and bottom), while a vertical edge is a change from left to "
            "right, between columns"
        )
    if response["vertical"] < 1e-6:
        raise CheckFailed(
            "your kernel gives no response on an image with a vertical edge (left half 0, "
            "right half 1): its output is 0 everywhere"
        )
    if abs(k.sum().item()) > 1e-6 * k.abs().sum().item():
        raise CheckFailed(
            f"your kernel responds to a flat gray image (strongest output "
            f"{response['flat']:.3f}): its entries sum to {k.sum().item():.3f}, and an "
            "edge detector's entries must sum to 0 so that constant regions give 0"
        )
    ratio = response["horizontal"] / response["vertical"]
    if ratio > 0.05:
        raise CheckFailed(
            f"your kernel responds to a horizontal edge too: its strongest output there is "
            f"{ratio:.0%} of the one on a vertical edge (at most 5% allowed). A vertical edge "
            "is a change from left to right, so the kernel should compare its left and right "
            "columns and treat every row alike"
        )
    _core.passed("vertical_edge_kernel", len(images))


# Task 4: what a layer costs, (parameters, multiply-adds of one forward pass)
def _cost(c, o, k, h, w, stride=1, padding=0, bias=True, mistake=""):
    """``(parameters, multiply-adds)`` of the layer, counted with one typical mistake."""
    weights = o * c * k * k
    biases = {"no bias": 0, "bias anyway": o}.get(mistake, o * bias)
    positions = _output_size(h, k, stride, padding) * _output_size(w, k, stride, padding)
    return {
        "one input channel": (o * k * k + biases, weights * positions),
        "per input pixel": (weights + biases, weights * h * w),
        "bias multiply-adds": (weights + biases, (weights + biases) * positions),
    }.get(mistake, (weights + biases, weights * positions))


@exercise(
    cases=lambda: [
        case(c, o, k, h, w, stride=s, padding=p, bias=bias)
        for c, o, k, h, w, s, p, bias in [
            (1, 8, 3, 8, 8, 1, 1, True),
            (3, 16, 5, 32, 32, 1, 0, True),
            (16, 32, 3, 28, 28, 2, 1, False),
            (64, 64, 1, 14, 14, 1, 0, True),
            (8, 4, 3, 9, 7, 2, 0, True),
            (2, 3, 7, 20, 10, 3, 3, False),
        ]
    ],
    describe=lambda c, o, k, h, w, stride, padding, bias: (
        f"for Conv2d({c}, {o}, kernel_size={k}, stride={stride}, padding={padding}, "
        f"bias={bias}) on a {h}×{w} input"
    ),
    compare=Parts(parameters=Exact(), multiply_adds=Exact()),
    mistakes=[
        Mistake("Count the bias: one per output channel.", partial(_cost, mistake="no bias")),
        Mistake(
            "This layer has bias=False: no bias parameters.", partial(_cost, mistake="bias anyway")
        ),
        Mistake(
            "Each output channel has one k×k kernel per input channel.",
            partial(_cost, mistake="one input channel"),
        ),
        Mistake(
            "Count one multiply-add per *output* position, not per input pixel.",
            partial(_cost, mistake="per input pixel"),
        ),
        Mistake(
            "The bias is an addition, not a multiply-add: count only weight products.",
            partial(_cost, mistake="bias multiply-adds"),
        ),
    ],
)
def conv_layer_cost(in_ch, out_ch, kernel_size, height, width, stride=1, padding=0, bias=True):
    """Check ``fn(in_ch, out_ch, kernel_size, height, width, stride, padding, bias)``: the pair
    ``(parameters, multiply_adds)`` of that ``nn.Conv2d`` on one image."""
    layer = nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, bias=bias, device="meta")
    positions = layer(torch.empty(1, in_ch, height, width, device="meta"))[0, 0].numel()
    parameters = sum(p.numel() for p in layer.parameters())
    return parameters, out_ch * positions * in_ch * kernel_size**2
