"""Text checkers: right answers pass, typical wrong ones fail with a precise message."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.text import pad_sequences

# ---------------------------------------------------------------------------------------------
# Task 1: build_vocabulary


def vocab_with(specials=True, lower=True, use_min_count=True, start=2):
    def build(texts, min_count=1):
        counts = Counter(t for text in texts for t in (text.lower() if lower else text).split())
        vocab = {"<pad>": 0, "<unk>": 1} if specials else {}
        next_id = start if specials else 0
        for token, count in sorted(counts.items()):
            if count >= min_count or not use_min_count:
                vocab[token] = next_id
                next_id += 1
        return vocab

    return build


def test_vocabulary_accepts_right_answers():
    check.build_vocabulary(vocab_with())
    check.build_vocabulary(  # any order of the words is fine
        lambda texts, min_count=1: {
            "<unk>": 1,
            "<pad>": 0,
            **{
                t: 2 + k
                for k, t in enumerate(
                    sorted(
                        {
                            t
                            for t, c in Counter(" ".join(texts).lower().split()).items()
                            if c >= min_count
                        },
                        reverse=True,
                    )
                )
            },
        }
    )


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (vocab_with(specials=False), r"reserve id 0 for '<pad>' and id 1 for '<unk>'"),
        (vocab_with(lower=False), r"lowercase the texts first"),
        (vocab_with(use_min_count=False), "leave out tokens seen fewer than min_count=2 times"),
        (vocab_with(start=3), r"the ids must be the ints 0 .. "),
        (lambda texts, min_count=1: list(vocab_with()(texts, min_count)), "expected a dict"),
        (
            lambda texts, min_count=1: {**vocab_with()(texts, min_count), 5: 99},
            "every key must be a token",
        ),
    ],
)
def test_vocabulary_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.build_vocabulary(wrong)


def test_vocabulary_names_a_missing_token():
    def forgets_last_text(texts, min_count=1):
        return vocab_with()(texts[:-1] or texts, min_count)

    with pytest.raises(CheckFailed, match=r"'digit' appears 1 time\(s\) but is not in your"):
        check.build_vocabulary(forgets_last_text)


# ---------------------------------------------------------------------------------------------
# Task 2: pad_batch


def right_pad(sequences):
    return pad_sequences([torch.tensor(s) for s in sequences])


def left_pad(sequences):
    longest = max(len(s) for s in sequences)
    return (
        torch.tensor([[0] * (longest - len(s)) + list(s) for s in sequences]),
        torch.tensor([len(s) for s in sequences]),
    )


def pads_with_one(sequences):
    padded, lengths = right_pad(sequences)
    return padded.masked_fill(torch.arange(padded.shape[1]) >= lengths[:, None], 1), lengths


def padded_lengths(sequences):
    padded, _ = right_pad(sequences)
    return padded, torch.full((len(sequences),), padded.shape[1])


def float_ids(sequences):
    padded, lengths = right_pad(sequences)
    return padded.float(), lengths


def fixed_length(sequences):
    padded, lengths = right_pad(sequences)
    return F.pad(padded, (0, 2)), lengths


def test_pad_accepts_right_answers():
    check.pad_batch(right_pad)
    check.pad_batch(lambda s: (right_pad(s)[0], right_pad(s)[1].int()))  # int32 lengths are fine


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (left_pad, "Pad at the end"),
        (pads_with_one, "Fill the padding with 0"),
        (padded_lengths, "true lengths before padding"),
        (float_ids, r"token ids must be torch.long"),
        (fixed_length, r"as long as the longest sequence"),
        (lambda s: right_pad(s)[0], r"expected \(padded, lengths\)"),
        (lambda s: (right_pad(s)[0], [len(x) for x in s]), "as the lengths you returned a list"),
    ],
)
def test_pad_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.pad_batch(wrong)


# ---------------------------------------------------------------------------------------------
# Task 3: embed_one_hot


def test_embed_accepts_right_answers():
    check.embed_one_hot(lambda ids, w: F.one_hot(ids, w.shape[0]).float() @ w)
    check.embed_one_hot(lambda ids, w: F.embedding(ids, w))
    check.embed_one_hot(lambda ids, w: w[ids])


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda ids, w: F.one_hot(ids).float() @ w, "num_classes=weight.shape"),
        (lambda ids, w: F.one_hot(ids, w.shape[0]) @ w, r"convert it with .float\(\)"),
        (lambda ids, w: F.one_hot(ids, w.shape[0]).float(), "you return the one-hot vectors"),
        (lambda ids, w: F.embedding((ids - 1).clamp(min=0), w), "ids start at 0"),
        (lambda ids, w: F.embedding(ids, w).detach(), "does not depend on the weight"),
        (lambda ids, w: F.one_hot(ids, w.shape[0]).float() @ w.T.T.flip(1), "wrong values"),
    ],
)
def test_embed_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.embed_one_hot(wrong)


# ---------------------------------------------------------------------------------------------
# Task 4: masked_mean


def _mask(embedded, lengths, shift=0):
    return (torch.arange(embedded.shape[1])[None, :] < lengths[:, None] + shift).float()[..., None]


def right_mean(embedded, lengths):
    return (embedded * _mask(embedded, lengths)).sum(1) / lengths[:, None]


def test_masked_mean_accepts_right_answer():
    check.masked_mean(right_mean)
    check.masked_mean(lambda e, n: torch.stack([e[k, : n[k]].mean(0) for k in range(len(n))]))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda e, n: e.mean(1), "Do not average over the padding"),
        (lambda e, n: (e * _mask(e, n)).sum(1), "Divide the sum by each sequence's length"),
        (lambda e, n: (e * _mask(e, n)).sum(1) / e.shape[1], "not by T"),
        (lambda e, n: (e * _mask(e, n, 1)).sum(1) / (n[:, None] + 1), "Off by one"),
        (lambda e, n: right_mean(e, n)[None], r"One vector per sequence: \(N, D\)"),
    ],
)
def test_masked_mean_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.masked_mean(wrong)


# ---------------------------------------------------------------------------------------------
# Task 5: last_state


def right_last(outputs, lengths):
    return outputs[torch.arange(len(lengths)), lengths - 1]


def test_last_state_accepts_right_answer():
    check.last_state(right_last)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda o, n: o[:, -1], r"outputs\[:, -1\] is padding"),
        (lambda o, n: o[:, 0], "That is the first step"),
        (lambda o, n: o[torch.arange(len(n)), n], r"out of bounds.*0 .. lengths\[n\] - 1"),
        (lambda o, n: o[:, -1:], r"One vector per sequence"),
    ],
)
def test_last_state_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.last_state(wrong)
