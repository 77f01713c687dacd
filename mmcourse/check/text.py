"""Checkers for the text exercises (exercises/06_text.md)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mmcourse.check._core import (
    CheckFailed,
    as_tensor,
    call,
    checker,
    expect_close,
    expect_shape,
    passed,
)
from mmcourse.check.rnn import _same

# ---------------------------------------------------------------------------------------------
# Task 1: build_vocabulary

_VOCAB_CASES = [
    (["the number seven", "seven minus two", "The digit Two"], 1),
    (["not two but seven", "seven , not two", "two plus two", "nine"], 2),
    (["a b a c a b", "c c d", "E e"], 2),
    (["one"], 1),
]


@checker
def build_vocabulary(fn: Any) -> None:
    """Check ``fn(texts, min_count) -> dict`` token -> id with <pad> 0, <unk> 1, ids contiguous."""
    for texts, min_count in _VOCAB_CASES:
        case = f"for texts {texts} and min_count {min_count}"
        vocab = call(fn, "build_vocabulary", case, list(texts), min_count=min_count)
        if not isinstance(vocab, dict):
            raise CheckFailed(f"{case} you returned a {type(vocab).__name__}; expected a dict")
        bad_keys = [k for k in vocab if not isinstance(k, str)]
        if bad_keys:
            raise CheckFailed(f"{case}: every key must be a token (str), got {bad_keys[0]!r}")
        if vocab.get("<pad>") != 0 or vocab.get("<unk>") != 1:
            raise CheckFailed(
                f"{case}: you map <pad> to {vocab.get('<pad>')!r} and <unk> to "
                f"{vocab.get('<unk>')!r}; reserve id 0 for '<pad>' and id 1 for '<unk>', and "
                "give the words ids from 2 on"
            )
        counts = Counter(token for text in texts for token in text.lower().split())
        wanted = {t for t, c in counts.items() if c >= min_count}
        words = set(vocab) - {"<pad>", "<unk>"}
        upper = sorted(w for w in words if w != w.lower())
        if upper:
            raise CheckFailed(
                f"{case}: your vocabulary contains {upper[0]!r}; lowercase the texts first "
                "(text.lower().split())"
            )
        missing = sorted(wanted - words)
        if missing:
            raise CheckFailed(
                f"{case}: {missing[0]!r} appears {counts[missing[0]]} time(s) but is not in your "
                "vocabulary"
            )
        extra = sorted(words - wanted)
        if extra:
            seen = counts.get(extra[0], 0)
            raise CheckFailed(
                f"{case}: {extra[0]!r} is in your vocabulary but appears {seen} time(s)"
                + (
                    f"; leave out tokens seen fewer than min_count={min_count} times"
                    if 0 < seen < min_count
                    else ""
                )
            )
        ids = sorted(vocab.values()) if all(isinstance(v, int) for v in vocab.values()) else None
        if ids != list(range(len(vocab))):
            raise CheckFailed(
                f"{case}: the ids must be the ints 0 .. {len(vocab) - 1}, each used once; "
                f"you use {sorted(vocab.values(), key=str)}"
            )
    passed("build_vocabulary", len(_VOCAB_CASES))


# ---------------------------------------------------------------------------------------------
# Task 2: pad_batch

_PAD_CASES = [
    [[5, 3, 8], [2], [7, 7]],
    [[4], [9, 1, 2, 6, 3]],
    [[1, 2, 3]],
    [[3, 4], [5, 6], [7, 8, 9, 10]],
]


def _pad_reference(sequences: list[list[int]]) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(s) for s in sequences])
    padded = torch.zeros(len(sequences), int(lengths.max()), dtype=torch.long)
    for k, s in enumerate(sequences):
        padded[k, : len(s)] = torch.tensor(s)
    return padded, lengths


@checker
def pad_batch(fn: Any) -> None:
    """Check ``fn(sequences) -> (padded (N, T) long, lengths (N,) long)``."""
    for sequences in _PAD_CASES:
        case = f"for the sequences {sequences}"
        got = call(fn, "pad_batch", case, [list(s) for s in sequences])
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise CheckFailed(f"{case} you returned {got!r:.80}; expected (padded, lengths)")
        padded = as_tensor(got[0], case, "as the padded batch you returned")
        lengths = as_tensor(got[1], case, "as the lengths you returned")
        expected, expected_lengths = _pad_reference(sequences)
        expect_shape(
            padded,
            expected.shape,
            case,
            "One row per sequence, as long as the longest sequence: (N, max length).",
        )
        if padded.dtype != torch.long:
            raise CheckFailed(
                f"{case}: your padded batch has dtype {padded.dtype}; token ids must be "
                "torch.long (int64), which nn.Embedding requires"
            )
        if not torch.equal(padded.cpu(), expected):
            hint = ""
            left = torch.stack(
                [F.pad(torch.tensor(s), (expected.shape[1] - len(s), 0)) for s in sequences]
            )
            if torch.equal(padded.cpu(), left):
                hint = " Pad at the end: the tokens start at position 0, the padding follows."
            elif torch.equal(padded.cpu().masked_fill(expected == 0, 0), expected):
                hint = " Fill the padding with 0, the id of <pad>."
            raise CheckFailed(
                f"{case}: your padded batch is\n{padded.tolist()}\nexpected\n{expected.tolist()}."
                + hint
            )
        expect_shape(lengths, expected_lengths.shape, case, "One length per sequence.")
        if not torch.equal(lengths.cpu().long(), expected_lengths):
            hint = ""
            if (lengths == expected.shape[1]).all():
                hint = " The lengths are the true lengths before padding, not the padded length."
            raise CheckFailed(
                f"{case}: your lengths are {lengths.tolist()}, expected "
                f"{expected_lengths.tolist()}." + hint
            )
    passed("pad_batch", len(_PAD_CASES))


# ---------------------------------------------------------------------------------------------
# Task 3: embed_one_hot


def _embed_cases() -> list[tuple[Tensor, Tensor]]:
    g = torch.Generator().manual_seed(60)
    cases = []
    for n, t, v, d in [(2, 3, 7, 4), (1, 5, 10, 3), (3, 2, 6, 6)]:
        ids = torch.randint(0, v, (n, t), generator=g)
        ids[0, 0] = 0  # the padding id occurs
        ids[-1, -1] = v - 2  # ids do not reach the last row: V is not ids.max() + 1
        cases.append((ids, torch.randn(v, d, generator=g)))
    return cases


@checker
def embed_one_hot(fn: Any) -> None:
    """Check ``fn(ids (N, T), weight (V, D)) -> (N, T, D)`` against ``F.embedding``."""
    cases = _embed_cases()
    for ids, weight in cases:
        case = f"for ids of shape {tuple(ids.shape)} and a weight of shape {tuple(weight.shape)}"
        w = weight.clone().requires_grad_()
        try:
            result = call(fn, "embed_one_hot", case, ids.clone(), w)
        except CheckFailed as failure:
            message = str(failure)
            if "Long" in message or "dtype" in message:
                message += (
                    ". F.one_hot returns integers: convert it with .float() before the product."
                )
            elif "shape" in message or "size" in message:
                message += (
                    ". The one-hot vectors need one entry per row of the weight: "
                    "F.one_hot(ids, num_classes=weight.shape[0]) has shape (N, T, V), and "
                    "(N, T, V) @ (V, D) is (N, T, D)."
                )
            raise CheckFailed(message) from None
        result = as_tensor(result, case)
        expected = F.embedding(ids, weight)
        one_hot = F.one_hot(ids, weight.shape[0]).float()
        if tuple(result.shape) == tuple(one_hot.shape) and tuple(one_hot.shape) != tuple(
            expected.shape
        ):
            raise CheckFailed(
                f"{case}: you return the one-hot vectors {tuple(one_hot.shape)}; multiply them "
                f"by the weight to get the embeddings {tuple(expected.shape)}"
            )
        expect_shape(result, expected.shape, case, "The embeddings have shape (N, T, D).")
        hint = ""
        if _same(result, F.embedding((ids - 1).clamp(min=0), weight)):
            hint = "Row v of the weight is the vector of token v; ids start at 0."
        expect_close(result, expected, case, hint)
        if not result.requires_grad:
            raise CheckFailed(
                f"{case}: your result does not depend on the weight through autograd (no "
                "gradient would reach the embedding table); compute it from `weight`, without "
                ".detach(), .numpy() or torch.tensor(...)"
            )
    passed("embed_one_hot", len(cases))


# ---------------------------------------------------------------------------------------------
# Tasks 4 and 5: masked_mean and last_state


def _sequence_cases() -> list[tuple[Tensor, Tensor]]:
    """``(values (N, T, D), lengths (N,))``; the padded positions hold garbage on purpose."""
    g = torch.Generator().manual_seed(61)
    cases = []
    for lengths in ([3, 1, 2], [4, 4], [1], [2, 5, 3, 1]):
        lengths = torch.tensor(lengths)
        n, t = len(lengths), int(lengths.max())
        cases.append((torch.randn(n, t, 3, generator=g), lengths))
    return cases


def _mask(lengths: Tensor, t: int, shift: int = 0) -> Tensor:
    return (torch.arange(t)[None, :] < (lengths[:, None] + shift)).float()


@checker
def masked_mean(fn: Any) -> None:
    """Check ``fn(embedded (N, T, D), lengths (N,)) -> (N, D)``: the mean over real tokens."""
    cases = _sequence_cases()
    for values, lengths in cases:
        case = f"for embeddings of shape {tuple(values.shape)} and lengths {lengths.tolist()}"
        result = as_tensor(call(fn, "masked_mean", case, values.clone(), lengths.clone()), case)
        t = values.shape[1]
        mask = _mask(lengths, t)[..., None]
        expected = (values * mask).sum(1) / lengths[:, None]
        expect_shape(result, expected.shape, case, "One vector per sequence: (N, D).")
        hint = ""
        candidates = [
            (values.mean(1), "Do not average over the padding: only the first lengths[n] steps."),
            ((values * mask).sum(1), "Divide the sum by each sequence's length."),
            ((values * mask).sum(1) / t, "Divide by the sequence's own length, not by T."),
            (
                (values * _mask(lengths, t, 1)[..., None]).sum(1) / (lengths[:, None] + 1),
                "Off by one: the real tokens are positions 0 .. lengths[n] - 1.",
            ),
        ]
        for candidate, text in candidates:
            if _same(result, candidate) and not _same(candidate, expected):
                hint = text
                break
        expect_close(result, expected, case, hint)
    passed("masked_mean", len(cases))


@checker
def last_state(fn: Any) -> None:
    """Check ``fn(outputs (N, T, H), lengths (N,)) -> (N, H)``: each sequence's last real step."""
    cases = _sequence_cases()
    for outputs, lengths in cases:
        case = f"for outputs of shape {tuple(outputs.shape)} and lengths {lengths.tolist()}"
        try:
            result = call(fn, "last_state", case, outputs.clone(), lengths.clone())
        except CheckFailed as failure:
            message = str(failure)
            if "out of bounds" in message:
                message += ". The real steps of sequence n are 0 .. lengths[n] - 1."
            raise CheckFailed(message) from None
        result = as_tensor(result, case)
        rows = torch.arange(len(lengths))
        expected = outputs[rows, lengths - 1]
        expect_shape(result, expected.shape, case, "One vector per sequence: (N, H).")
        hint = ""
        if _same(result, outputs[:, -1]) and not _same(outputs[:, -1], expected):
            hint = (
                "outputs[:, -1] is padding for the shorter sequences: take step lengths[n] - 1 "
                "of sequence n."
            )
        elif _same(result, outputs[:, 0]) and not _same(outputs[:, 0], expected):
            hint = "That is the first step; the last real step of sequence n is lengths[n] - 1."
        expect_close(result, expected, case, hint)
    passed("last_state", len(cases))
