"""Text checkers: the vocabulary (custom), the ids of a padded batch, and the error hints on the
errors PyTorch really raises. Their declared tasks are tested from their tables in
tests/test_checkers.py."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.text import pad_sequences


def vocab(specials=True, lower=True, use_min_count=True, start=2, skip_last=False, reverse=False):
    def build(texts, min_count=1):
        texts = texts[:-1] if skip_last and len(texts) > 1 else texts
        counts = Counter(t for text in texts for t in (text.lower() if lower else text).split())
        words = sorted(t for t, c in counts.items() if c >= min_count or not use_min_count)
        first = {"<pad>": 0, "<unk>": 1} if specials else {}
        ids = range(start if specials else 0, 100)
        return {**first, **dict(zip(words[::-1] if reverse else words, ids, strict=False))}

    return build


def right_pad(sequences):
    return pad_sequences([torch.tensor(s) for s in sequences])


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (check.build_vocabulary, vocab()),
        (check.build_vocabulary, vocab(reverse=True)),  # any order of the words is fine
        (check.pad_batch, lambda s: (right_pad(s)[0], right_pad(s)[1].int())),
        (check.embed_one_hot, lambda ids, w: F.one_hot(ids, w.shape[0]).float() @ w),
        (check.embed_one_hot, lambda ids, w: w[ids]),
    ],
)
def test_right_answers_pass(checker, answer):
    checker(answer)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (check.build_vocabulary, vocab(specials=False), "reserve id 0 for '<pad>' and id 1"),
        (check.build_vocabulary, vocab(lower=False), "lowercase the texts first"),
        (check.build_vocabulary, vocab(use_min_count=False), "fewer than min_count=2 times"),
        (check.build_vocabulary, vocab(start=3), r"the ids must be the ints 0 \.\. "),
        (check.build_vocabulary, vocab(skip_last=True), r"'digit' appears 1 time\(s\) but is not"),
        (check.build_vocabulary, lambda t, min_count=1: list(vocab()(t)), "expected a dict"),
        (check.build_vocabulary, lambda t, min_count=1: {5: 0}, "every key must be a token"),
        (check.pad_batch, lambda s: (right_pad(s)[0].float(), right_pad(s)[1]), "torch.long"),
        (check.pad_batch, lambda s: (F.pad(right_pad(s)[0], (0, 2)), right_pad(s)[1]), "longest"),
        (check.pad_batch, lambda s: (right_pad(s)[0], right_pad(s)[1][:1]), "One length per"),
        (check.pad_batch, lambda s: (right_pad(s)[0] * 2, right_pad(s)[1]), r"\[\[10, 6, 16\]"),
        (check.embed_one_hot, lambda ids, w: F.one_hot(ids).float() @ w, "num_classes=weight"),
        (check.embed_one_hot, lambda ids, w: F.one_hot(ids, w.shape[0]) @ w, r"with \.float\(\)"),
        (check.last_state, lambda o, n: o[torch.arange(len(n)), n], r"are 0 \.\. lengths\[n\]"),
    ],
)
def test_typical_mistakes_get_their_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checker(wrong)
