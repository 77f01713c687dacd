"""Checkers for the text exercises (exercises/06_text.md), on ``mmcourse.text``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mmcourse.check import _core
from mmcourse.check._core import CheckFailed, Close, Gradient, Mistake, Parts, case, exercise

# Task 1: build_vocabulary (custom: any order of the tokens is right)
_VOCAB_CASES = [
    (["the number seven", "seven minus two", "The digit Two"], 1),
    (["not two but seven", "seven , not two", "two plus two", "nine"], 2),
    (["a b a c a b", "c c d", "E e"], 2),
    (["one"], 1),
]


@_core.checker
def build_vocabulary(fn: Any) -> None:
    """Check ``fn(texts, min_count) -> dict`` token -> id with <pad> 0, <unk> 1, ids contiguous."""
    for texts, min_count in _VOCAB_CASES:
        where = f"for texts {texts} and min_count {min_count}"
        vocab = _core.call(fn, "build_vocabulary", where, list(texts), min_count=min_count)
        if not isinstance(vocab, dict):
            raise CheckFailed(f"{where}: you returned a {type(vocab).__name__}; expected a dict")
        bad_keys = [k for k in vocab if not isinstance(k, str)]
        if bad_keys:
            raise CheckFailed(f"{where}: every key must be a token (str), got {bad_keys[0]!r}")
        if vocab.get("<pad>") != 0 or vocab.get("<unk>") != 1:
            raise CheckFailed(
                f"{where}: you map <pad> to {vocab.get('<pad>')!r} and <unk> to "
                f"{vocab.get('<unk>')!r}; reserve id 0 for '<pad>' and id 1 for '<unk>', and "
                "give the words ids from 2 on"
            )
        counts = Counter(token for text in texts for token in text.lower().split())
        wanted = {t for t, c in counts.items() if c >= min_count}
        words = set(vocab) - {"<pad>", "<unk>"}
        upper = sorted(w for w in words if w != w.lower())
        if upper:
            raise CheckFailed(
                f"{where}: your vocabulary contains {upper[0]!r}; lowercase the texts first "
                "(text.lower().split())"
            )
        missing = sorted(wanted - words)
        if missing:
            raise CheckFailed(
                f"{where}: {missing[0]!r} appears {counts[missing[0]]} time(s) but is not in "
                "your vocabulary"
            )
        extra = sorted(words - wanted)
        if extra:
            seen = counts.get(extra[0], 0)
            rare = f"; leave out tokens seen fewer than min_count={min_count} times"
            raise CheckFailed(
                f"{where}: {extra[0]!r} is in your vocabulary but appears {seen} time(s)"
                + (rare if 0 < seen < min_count else "")
            )
        ids = sorted(vocab.values()) if all(isinstance(v, int) for v in vocab.values()) else None
        if ids != list(range(len(vocab))):
            raise CheckFailed(
                f"{where}: the ids must be the ints 0 .. {len(vocab) - 1}, each used once; "
                f"you use {sorted(vocab.values(), key=str)}"
            )
    _core.passed("build_vocabulary", len(_VOCAB_CASES))


# Task 2: pad_batch
class _Ids(Close):
    """A tensor of ids (or lengths), shown whole when it is wrong."""

    def __init__(self, noun: str, shape_hint: str, long: bool = False) -> None:
        super().__init__()
        self.noun, self.shape_hint, self.long = noun, shape_hint, long

    def convert(self, value: Any, expected: Tensor, where: str, what: str = "") -> Tensor:
        value = super().convert(value, expected, where, f"as the {self.noun} you returned")
        if self.long and value.dtype != torch.long:
            raise CheckFailed(
                f"{where}: your {self.noun} has dtype {value.dtype}; token ids must be "
                "torch.long (int64), which nn.Embedding requires"
            )
        return value

    def explain(self, value: Tensor, expected: Tensor, where: str, what: str = "") -> str:
        if value.shape != expected.shape:
            shapes = f"{tuple(value.shape)}, expected {tuple(expected.shape)}"
            return f"{where}: your {self.noun} has shape {shapes}. {self.shape_hint}"
        return f"{where}: your {self.noun}:\n{value.tolist()}\nexpected\n{expected.tolist()}"


def _pad(sequences: list[list[int]], value: int = 0, left: bool = False) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(s) for s in sequences])
    padded = torch.full((len(sequences), int(lengths.max())), value)
    for n, s in enumerate(sequences):
        start = padded.shape[1] - len(s) if left else 0
        padded[n, start : start + len(s)] = torch.tensor(s)
    return padded, lengths


_PAD_CASES = [
    [[5, 3, 8], [2], [7, 7]],
    [[4], [9, 1, 2, 6, 3]],
    [[1, 2, 3]],
    [[3, 4], [5, 6], [7, 8, 9, 10]],
]


@exercise(
    cases=lambda: [case(s) for s in _PAD_CASES],
    compare=Parts(
        padded=_Ids(
            "padded batch",
            "One row per sequence, as long as the longest sequence: (N, max length).",
            long=True,
        ),
        lengths=_Ids("lengths", "One length per sequence."),
    ),
    mistakes=[
        Mistake(
            "Pad at the end: the tokens start at position 0, the padding follows.",
            lambda s: _pad(s, left=True),
        ),
        Mistake("Fill the padding with 0, the id of <pad>.", lambda s: _pad(s, value=1)),
        Mistake(
            "The lengths are the true lengths before padding, not the padded length.",
            lambda s: (_pad(s)[0], torch.full((len(s),), max(map(len, s)))),
        ),
    ],
)
def pad_batch(sequences):
    """Check ``fn(sequences) -> (padded (N, T) long, lengths (N,) long)``."""
    return _pad(sequences)


# Task 3: embed_one_hot; the weight requires grad, so that the gradient is checked too
def _embed_cases() -> list:
    g = torch.Generator().manual_seed(60)
    cases = []
    for n, t, v, d in [(2, 3, 7, 4), (1, 5, 10, 3), (3, 2, 6, 6)]:
        ids = torch.randint(0, v, (n, t), generator=g)
        ids[0, 0] = 0  # the padding id occurs
        ids[-1, -1] = v - 2  # ids do not reach the last row: V is not ids.max() + 1
        cases.append(case(ids, torch.randn(v, d, generator=g).requires_grad_()))
    return cases


@exercise(
    cases=_embed_cases,
    compare=Parts(
        result=Close(),
        gradient=Gradient(
            missing="your result does not depend on the weight through autograd (no gradient "
            "would reach the embedding table); compute it from `weight`, without .detach(), "
            ".numpy() or torch.tensor(...)"
        ),
    ),
    mistakes=[
        Mistake(
            lambda ids, w: (
                f"You return the one-hot vectors {(*ids.shape, len(w))}; multiply "
                "them by the weight to get the embeddings (N, T, D)."
            ),
            lambda ids, w: F.one_hot(ids, w.shape[0]).float(),
        ),
        Mistake(
            "Row v of the weight is the vector of token v; ids start at 0.",
            lambda ids, w: F.embedding((ids - 1).clamp(min=0), w),
        ),
    ],
    shape_hint="The embeddings have shape (N, T, D).",
    error_hints=[
        ("Long|dtype", "F.one_hot returns integers: convert it with .float() before the product."),
        (
            "shape|size",
            "The one-hot vectors need one entry per row of the weight: "
            "F.one_hot(ids, num_classes=weight.shape[0]) has shape (N, T, V), and "
            "(N, T, V) @ (V, D) is (N, T, D).",
        ),
    ],
)
def embed_one_hot(ids, weight):
    """Check ``fn(ids (N, T), weight (V, D)) -> (N, T, D)`` against ``F.embedding``."""
    return F.embedding(ids, weight)


# Tasks 4 and 5: masked_mean and last_state
def _sequence_cases() -> list:
    """``(values (N, T, D), lengths (N,))``; the padded positions hold garbage on purpose."""
    g = torch.Generator().manual_seed(61)
    cases = []
    for lengths in ([3, 1, 2], [4, 4], [1], [2, 5, 3, 1]):
        lengths = torch.tensor(lengths)
        cases.append(case(torch.randn(len(lengths), int(lengths.max()), 3, generator=g), lengths))
    return cases


def _masked_sum(values: Tensor, lengths: Tensor, shift: int = 0) -> Tensor:
    mask = torch.arange(values.shape[1])[None, :] < lengths[:, None] + shift
    return (values * mask[..., None]).sum(1)


@exercise(
    cases=_sequence_cases,
    mistakes=[
        Mistake(
            "Do not average over the padding: only the first lengths[n] steps.",
            lambda v, n: v.mean(1),
        ),
        Mistake("Divide the sum by each sequence's length.", _masked_sum),
        Mistake(
            "Divide by the sequence's own length, not by T.",
            lambda v, n: _masked_sum(v, n) / v.shape[1],
        ),
        Mistake(
            "Off by one: the real tokens are positions 0 .. lengths[n] - 1.",
            lambda v, n: _masked_sum(v, n, 1) / (n[:, None] + 1),
        ),
    ],
    shape_hint="One vector per sequence: (N, D).",
)
def masked_mean(embedded, lengths):
    """Check ``fn(embedded (N, T, D), lengths (N,)) -> (N, D)``: the mean over real tokens."""
    return _masked_sum(embedded, lengths) / lengths[:, None]


@exercise(
    cases=_sequence_cases,
    mistakes=[
        Mistake(
            "outputs[:, -1] is padding for the shorter sequences: take step lengths[n] - 1 "
            "of sequence n.",
            lambda o, n: o[:, -1],
        ),
        Mistake(
            "That is the first step; the last real step of sequence n is lengths[n] - 1.",
            lambda o, n: o[:, 0],
        ),
    ],
    shape_hint="One vector per sequence: (N, H).",
    error_hints=[("out of bounds", "The real steps of sequence n are 0 .. lengths[n] - 1.")],
)
def last_state(outputs, lengths):
    """Check ``fn(outputs (N, T, H), lengths (N,)) -> (N, H)``: each sequence's last real step."""
    return outputs[torch.arange(len(lengths)), lengths - 1]
