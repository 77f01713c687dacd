"""Checkers for the attention exercises (exercises/09_attention.md), on ``mmcourse.attention``:
scaled dot-product attention, heads, patches, sinusoidal positions, a parameter count."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmcourse.attention import sinusoidal_positions as _positions
from mmcourse.check._core import Exact, Mistake, case, exercise

# Task 1: softmax(Q K^T / sqrt(E) with -inf where the mask is False) V


def _mask(g: torch.Generator, length: int, source_length: int) -> Tensor:
    """A random (L, S) boolean mask with, in every row, a key allowed and (S > 1) a key not."""
    mask = torch.rand(length, source_length, generator=g) < 0.5
    rows = torch.arange(length)
    mask[rows, rows % source_length] = True
    if source_length > 1:
        mask[rows, (rows + 1) % source_length] = False
    return mask


def _attention_cases():
    """No mask first, then masks; the fully visible mask comes last (an inverted mask is
    all False there and gives NaN)."""
    g = torch.Generator().manual_seed(90)
    cases = []
    for batch, length, source_length, width, value_width, masked in [
        ((2,), 4, 4, 8, 8, False),
        ((1,), 3, 5, 6, 4, True),  # L != S, a batch of one, Ev != E
        ((2, 3), 1, 6, 5, 3, True),  # batch and heads, a single query, odd widths
        ((3,), 6, 2, 7, 5, True),
        ((1,), 5, 5, 1, 3, False),  # E = 1: every scale is 1
        ((2,), 3, 5, 4, 2, "all"),  # a mask that lets every query see every key
    ]:
        q = torch.randn(*batch, length, width, generator=g)
        k = torch.randn(*batch, source_length, width, generator=g)
        v = torch.randn(*batch, source_length, value_width, generator=g)
        if masked == "all":
            cases.append(case(q, k, v, torch.ones(length, source_length, dtype=torch.bool)))
        elif masked:
            cases.append(case(q, k, v, _mask(g, length, source_length)))
        else:
            cases.append(case(q, k, v))
    return cases


def _sdpa(q, k, v, mask=None, scale=None, dim=-1, after=False, invert=False, ignore=False):
    """Attention with the typical mistakes as options (the defaults are right)."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None and not (after or ignore):
        scores = scores.masked_fill(mask if invert else ~mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if mask is not None and after:
        weights = weights * mask
    return weights @ v


def _describe_attention(q, k, v, mask=None):
    text = f"for query {tuple(q.shape)}, key {tuple(k.shape)} and value {tuple(v.shape)}"
    if mask is None:
        return text + " without a mask"
    if bool(mask.all()):
        return text + f" and a mask {tuple(mask.shape)} that is True everywhere"
    return text + f" and the mask {mask.int().tolist()}"


@exercise(
    cases=_attention_cases,
    describe=_describe_attention,
    mistakes=[
        Mistake(
            "Take the softmax over the keys (dim=-1), so that each query's weights sum to "
            "1; yours normalizes over the queries.",
            lambda q, k, v, mask=None: _sdpa(q, k, v, mask, dim=-2),
        ),
        Mistake(
            "The scale is missing: divide the scores Q K^T by sqrt(E).",
            lambda q, k, v, mask=None: _sdpa(q, k, v, mask, scale=1.0),
        ),
        Mistake(
            "Divide the scores by sqrt(E), not by E.",
            lambda q, k, v, mask=None: _sdpa(q, k, v, mask, scale=1 / q.shape[-1]),
        ),
        Mistake(
            "You applied the mask after the softmax: the weights that are left no longer "
            "sum to 1. Set the forbidden scores to -inf before the softmax.",
            lambda q, k, v, mask=None: _sdpa(q, k, v, mask, after=True),
        ),
        Mistake(
            "Your mask is inverted: True means the query MAY attend to that key; forbid "
            "the keys where the mask is False (scores.masked_fill(~mask, -inf)).",
            lambda q, k, v, mask=None: _sdpa(q, k, v, mask, invert=True),
        ),
        Mistake(
            "The mask is ignored: set the scores where the mask is False to -inf before "
            "the softmax.",
            lambda q, k, v, mask=None: _sdpa(q, k, v, mask, ignore=True),
        ),
        Mistake(
            "You return the attention weights: multiply them by the values, weights @ V.",
            lambda q, k, v, mask=None: _sdpa(q, k, torch.eye(k.shape[-2]), mask),
        ),
    ],
    shape_hint=lambda q, k, v, mask=None: (
        "The output has one row per query and the width of the values: (..., L, Ev)."
    ),
)
def scaled_dot_product_attention(query, key, value, mask=None):
    """Check ``fn(query, key, value, mask=None)`` against
    ``torch.nn.functional.scaled_dot_product_attention`` (a boolean mask, True = may attend)."""
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask)


# Task 2: split_heads, (N, L, E) -> (N, H, L, E / H)


def _heads_cases():
    """The first case has L != H, so that each wrong split is told apart."""
    g = torch.Generator().manual_seed(91)
    return [
        case(torch.randn(n, length, width, generator=g), heads)
        for n, length, width, heads in [
            (2, 5, 12, 3),
            (1, 4, 8, 4),  # L == H: forgetting the transpose keeps the shape
            (3, 1, 6, 2),  # a single position
            (2, 3, 10, 5),
            (2, 6, 7, 1),  # one head, an odd width
            (1, 2, 9, 3),
        ]
    ]


def _head_width(x, heads):
    return x.shape[2] // heads


@exercise(
    cases=_heads_cases,
    mistakes=[
        Mistake(
            "You reshaped straight to (N, H, L, E/H): that cuts the sequence, not the "
            "features, into heads. Reshape to (N, L, H, E/H), then transpose(1, 2).",
            lambda x, h: x.reshape(x.shape[0], h, x.shape[1], _head_width(x, h)),
        ),
        Mistake(
            "You forgot the transpose: (N, L, H, E/H) must become (N, H, L, E/H), transpose(1, 2).",
            lambda x, h: x.reshape(x.shape[0], x.shape[1], h, _head_width(x, h)),
        ),
        Mistake(
            "Head h holds the consecutive features h*E/H .. (h+1)*E/H - 1, not every H-th "
            "feature: reshape to (N, L, H, E/H), not (N, L, E/H, H).",
            lambda x, h: x.reshape(x.shape[0], x.shape[1], -1, h).permute(0, 3, 1, 2),
        ),
    ],
    shape_hint=lambda x, h: "The result is (N, H, L, E/H): the heads come before the positions.",
)
def split_heads(x, num_heads):
    """Check ``fn(x, num_heads)``: ``(N, L, E) -> (N, H, L, E / H)``, as ``mmcourse.attention``."""
    n, length, _ = x.shape
    return x.reshape(n, length, num_heads, -1).transpose(1, 2)


# Task 3: patchify, (N, C, H, W) -> (N, (H/p)(W/p), C p p), patches in row-major order


def _patch_cases():
    """The first case has several channels, rows and columns of patches."""
    g = torch.Generator().manual_seed(92)
    return [
        case(torch.randn(*shape, generator=g), p)
        for shape, p in [
            ((2, 3, 4, 6), 2),
            ((1, 1, 6, 4), 2),  # a batch of one, one channel
            ((2, 2, 3, 9), 3),  # a single row of patches
            ((1, 3, 5, 5), 5),  # a single patch
            ((2, 4, 3, 3), 1),  # a patch per pixel
            ((3, 2, 8, 4), 4),  # a single column of patches
        ]
    ]


def _patches(x, p, order):
    """The patches of ``x`` permuted by ``order`` from ``(N, C, rows, p, cols, p)``."""
    n, c, h, w = x.shape
    grid = x.reshape(n, c, h // p, p, w // p, p).permute(order)
    return grid.reshape(n, (h // p) * (w // p), c * p * p)


@exercise(
    cases=_patch_cases,
    mistakes=[
        Mistake(
            "Your patches are in column-major order (top to bottom first); number them row "
            "by row, left to right: (N, rows, cols, ...).",
            lambda x, p: _patches(x, p, (0, 4, 2, 1, 3, 5)),
        ),
        Mistake(
            "Each patch must be flattened in the order (C, p, p), channel first as in a "
            "convolution weight, not (p, p, C).",
            lambda x, p: _patches(x, p, (0, 2, 4, 3, 5, 1)),
        ),
        Mistake(
            "A plain reshape does not cut patches: a row of the result must be a p x p "
            "square. Reshape to (N, C, H/p, p, W/p, p), permute, then reshape.",
            lambda x, p: x.reshape(x.shape[0], -1, x.shape[1] * p * p),
        ),
    ],
    shape_hint=lambda x, p: (
        "The result is (N, P, C * p * p): one row per patch, P = (H / p) * (W / p)."
    ),
)
def patchify(images, patch_size):
    """Check ``fn(images, patch_size)``: ``(N, C, H, W) -> (N, P, C * p * p)``, as ``F.unfold``."""
    return F.unfold(images, patch_size, stride=patch_size).transpose(1, 2)


# Task 4: sinusoidal_positions, PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)


def _sinusoid(length, dim, exponent=lambda i, d: 2 * i / d, swap=False):
    """The table with the given exponent of 10000, sines and cosines swapped or not."""
    position = torch.arange(length, dtype=torch.float64)[:, None]
    i = torch.arange((dim + 1) // 2, dtype=torch.float64)
    angle = position / 10000.0 ** exponent(i, dim)
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    table = torch.empty(length, dim, dtype=torch.float64)
    table[:, 0::2] = first(angle)
    table[:, 1::2] = second(angle[:, : dim // 2])
    return table.float()


def _per_feature(length, dim):
    """Feature j turning at its own frequency 10000^(-j/d), sine for even j, cosine for odd."""
    j = torch.arange(dim, dtype=torch.float64)
    angle = torch.arange(length, dtype=torch.float64)[:, None] / 10000.0 ** (j / dim)
    return torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


@exercise(
    cases=lambda: [
        case(length, dim)
        for length, dim in [(6, 8), (1, 4), (10, 6), (4, 7), (50, 16), (5, 5), (3, 1)]
    ],
    mistakes=[
        Mistake(
            "Sine and cosine are swapped: the even features 2i are sines, the odd ones "
            "2i+1 cosines.",
            lambda length, dim: _sinusoid(length, dim, swap=True),
        ),
        Mistake(
            "The exponent is 2i/d, not i/d: pair i turns at 1 / 10000^(2i/d).",
            lambda length, dim: _sinusoid(length, dim, exponent=lambda i, d: i / d),
        ),
        Mistake(
            "Divide the exponent by d: the frequency of pair i is 1 / 10000^(2i/d).",
            lambda length, dim: _sinusoid(length, dim, exponent=lambda i, d: 2 * i),
        ),
        Mistake(
            "Features 2i and 2i+1 share one frequency, 1 / 10000^(2i/d); yours gives "
            "feature j its own, 1 / 10000^(j/d).",
            _per_feature,
        ),
        Mistake(
            "Positions and features are swapped: the table is (length, dim), one row per position.",
            lambda length, dim: _positions(length, dim).T,
        ),
        Mistake(
            "The arguments are (length, dim): length positions, each a vector of dim "
            "features; yours has dim positions of length features.",
            lambda length, dim: _positions(dim, length),
        ),
    ],
    shape_hint=lambda length, dim: "The table is (length, dim): one row per position.",
)
def sinusoidal_positions(length, dim):
    """Check ``fn(length, dim) -> (length, dim)``, the sinusoidal positions of Vaswani et al."""
    return _positions(length, dim)


# Task 5: the parameters of nn.MultiheadAttention(E, H): 4 E^2 + 4 E, whatever H


def _mha_count(e, h, bias=True, projections=4, heads=1, biases=True):
    return heads * (projections * e * e + projections * e * (bias and biases))


@exercise(
    cases=lambda: [
        case(e, h, bias=bias)
        for e, h, bias in [
            (8, 2, True),
            (512, 8, True),
            (64, 4, False),
            (6, 1, True),
            (10, 5, True),
            (1, 1, True),
            (256, 16, False),
        ]
    ],
    compare=Exact(),
    mistakes=[
        Mistake(
            "The biases are missing: with bias=True, in_proj_bias has 3E entries and "
            "out_proj.bias E.",
            lambda e, h, bias=True: _mha_count(e, h, biases=False),
        ),
        Mistake(
            "With bias=False there is no bias at all: 4 E^2.",
            lambda e, h, bias=True: _mha_count(e, h),
        ),
        Mistake(
            "Count the output projection too: out_proj is an E x E Linear (with a bias "
            "when bias=True).",
            lambda e, h, bias=True: _mha_count(e, h, bias, projections=3),
        ),
        Mistake(
            "The count does not depend on num_heads: the H heads share the E x E "
            "projections, each head using E/H of their rows.",
            lambda e, h, bias=True: _mha_count(e, h, bias, heads=h),
        ),
    ],
)
def mha_parameter_count(embed_dim, num_heads, bias=True):
    """Check ``fn(embed_dim, num_heads, bias=True) -> int``, the parameters of
    ``nn.MultiheadAttention``."""
    layer = nn.MultiheadAttention(embed_dim, num_heads, bias=bias)
    return sum(p.numel() for p in layer.parameters())
