"""Checkers for the pooling exercises (exercises/03_pooling_cnn.md), on ``mmcourse.pool``."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from mmcourse.check._core import Exact, Mistake, case, exercise
from mmcourse.pool import pool_output_size as _output_size


# Task 1: the output length of a pooling layer, in floor and in ceil mode
def _size_cases():
    cases = [  # (size, kernel_size, stride, padding, ceil_mode): traps, then seeded random ones
        (3, 2, 2, 1, True),  # the famous one: a third window would start in the right padding
        (8, 2, None, 0, False),  # stride=None means the kernel size
        (5, 2, None, 0, True),  # ceil keeps a half window
        (5, 2, None, 0, False),
        (7, 3, 2, 1, False),
        (6, 3, 2, 1, True),
        (10, 3, 3, 1, True),
        (9, 4, 3, 2, True),
        (1, 1, 1, 0, False),
        (32, 3, 2, 1, True),
    ]
    rng = random.Random(3)
    while len(cases) < 40:
        k = rng.randint(1, 6)
        s = rng.choice([None, rng.randint(1, 4)])
        p, size, ceil = rng.randint(0, k // 2), rng.randint(1, 30), rng.random() < 0.6
        if size + 2 * p >= k:
            cases.append((size, k, s, p, ceil))
    return [case(n, k, stride=s, padding=p, ceil_mode=c) for n, k, s, p, c in cases]


def _naive_ceil(n, k, stride=None, padding=0, ceil_mode=False):
    s = k if stride is None else stride
    return (-(-(n + 2 * padding - k) // s) if ceil_mode else (n + 2 * padding - k) // s) + 1


@exercise(
    cases=_size_cases,
    compare=Exact(),
    mistakes=[
        Mistake(
            "In ceil_mode, PyTorch drops a last window that would start in the right "
            "padding: if (out - 1) * stride >= size + padding, subtract one.",
            _naive_ceil,
        ),
        Mistake(
            "With ceil_mode=True round the division up, so that a last, partial window is kept.",
            lambda n, k, stride, padding, ceil_mode: _output_size(n, k, stride, padding),
        ),
        Mistake(
            "stride=None means the stride equals the kernel size (the windows tile the input).",
            lambda n, k, stride, padding, ceil_mode: _output_size(
                n, k, stride or 1, padding, ceil_mode=ceil_mode
            ),
        ),
        Mistake(
            "Padding is added on both sides: the padded size is size + 2*padding.",
            lambda n, k, stride, padding, ceil_mode: _naive_ceil(
                n - padding, k, stride, padding, ceil_mode
            ),
        ),
        Mistake(
            "Count the first window too: the formula ends in + 1.",
            lambda n, k, stride, padding, ceil_mode: (
                _output_size(n, k, stride, padding, ceil_mode=ceil_mode) - 1
            ),
        ),
    ],
)
def pool_output_size(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Check ``fn(size, kernel_size, stride=None, padding=0, ceil_mode=False) -> int``."""
    return _output_size(size, kernel_size, stride, padding, ceil_mode=ceil_mode)


# Task 2: max pooling, out[n, c, i, j] = max of the window, the padding being -inf
def _max_pool_cases():
    g = torch.Generator().manual_seed(4)
    return [
        # mostly negative inputs, so that a zero from the padding would win
        case(torch.randn(n, c, h, w, generator=g) - 0.5, k, stride=s, padding=p)
        for n, c, h, w, k, s, p in [  # (N, C, H, W, kernel_size, stride, padding)
            (1, 1, 4, 4, 2, None, 0),
            (2, 3, 6, 6, 2, None, 0),
            (1, 2, 7, 5, 3, 2, 0),
            (2, 1, 5, 5, 3, 1, 1),
            (1, 2, 8, 6, 2, 2, 1),
            (3, 1, 9, 9, 3, None, 1),
            (1, 1, 5, 8, 4, 3, 2),
        ]
    ]


@exercise(
    cases=_max_pool_cases,
    mistakes=[
        Mistake(
            "You computed each window's mean: max pooling keeps its largest value.",
            F.avg_pool2d,
        ),
        Mistake(
            "You computed each window's mean (of the entries inside the image): max pooling "
            "keeps its largest value.",
            lambda *args, **kwargs: F.avg_pool2d(*args, **kwargs, count_include_pad=False),
        ),
        Mistake(
            "The padding must never win the maximum: pad with -inf (float('-inf')), not "
            "zeros. With negative inputs, a zero from the padding is larger than every real "
            "value.",
            lambda x, k, stride, padding: F.max_pool2d(F.pad(x, (padding,) * 4), k, stride),
        ),
        Mistake(
            "stride=None means the stride equals the kernel size, not 1.",
            lambda x, k, stride, padding: F.max_pool2d(x, k, stride or 1, padding),
        ),
        Mistake(
            lambda x, k, stride, padding: f"Pad the input by {padding} on all four sides first.",
            lambda x, k, stride, padding: F.max_pool2d(x, k, stride),
        ),
    ],
    shape_hint="Each axis has floor((size + 2*padding - kernel_size) / stride) + 1 outputs.",
)
def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Check ``fn(x, kernel_size, stride=None, padding=0)`` against ``F.max_pool2d``."""
    return F.max_pool2d(x, kernel_size, stride, padding)


# Task 3: the gradient of max pooling (stride = kernel): each window's winner gets grad_output
def _backward_cases():
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, c, h, w, k in [(1, 1, 4, 4, 2), (2, 3, 6, 4, 2), (1, 2, 6, 9, 3), (2, 1, 5, 7, 2)]:
        x = torch.randn(n, c, h, w, generator=g)
        cases.append(case(x, torch.randn(n, c, h // k, w // k, generator=g), k))
    tied = torch.tensor([[[[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0]]]])  # ties in both windows
    return [*cases, case(tied, torch.tensor([[[[3.0, 5.0]]]]), 2)]


def _pool_backward(x, grad_output, kernel_size, pool=F.max_pool2d):
    """d loss / d x of ``pool(x, kernel_size)``, by autograd."""
    x = x.detach().requires_grad_()
    return torch.autograd.grad(pool(x, kernel_size), x, grad_output)[0]


def _every_tie(x, grad_output, k):
    up = F.interpolate(grad_output, scale_factor=k, mode="nearest")
    pooled = F.interpolate(F.max_pool2d(x, k), scale_factor=k, mode="nearest")
    grad = torch.zeros_like(x)
    h, w = up.shape[-2:]
    grad[..., :h, :w] = (x[..., :h, :w] == pooled) * up
    return grad


@exercise(
    cases=_backward_cases,
    describe=lambda x, grad, k: (
        f"for an input of shape {tuple(x.shape)}"
        + (" (with ties inside the windows)" if x.unique().numel() < x.numel() else "")
        + f", kernel_size {k} (so grad_output has shape {tuple(grad.shape)})"
    ),
    mistakes=[
        Mistake(
            "You spread each gradient evenly over its window: that is average pooling's "
            "gradient. Through a maximum, only the position that won the window gets it.",
            lambda x, grad, k: _pool_backward(x, grad, k, F.avg_pool2d),
        ),
        Mistake(
            "The winners must receive the upstream gradient grad_output[n, c, i, j], "
            "not 1: the chain rule multiplies by it.",
            lambda x, grad, k: _pool_backward(x, torch.ones_like(grad), k),
        ),
        Mistake(
            "When several entries of a window tie for the maximum, PyTorch gives the whole "
            "gradient to the first of them (in row-major order), not to each of them.",
            _every_tie,
        ),
    ],
    shape_hint=(
        "The gradient with respect to x has the shape of x (inputs a window does not cover get 0)"
    ),
)
def max_pool_backward(x, grad_output, kernel_size):
    """Check ``fn(x, grad_output, kernel_size)``: the gradient of max pooling w.r.t. ``x``."""
    return _pool_backward(x, grad_output, kernel_size)
