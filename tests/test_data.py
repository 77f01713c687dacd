"""mmcourse.data: the digits and their split, the memory task and the digit phrases."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest
import torch
from torch import nn

from mmcourse.data import (
    DIGIT_WORDS,
    PHRASE_KINDS,
    digit_phrase,
    digit_phrases,
    digit_strings,
    digits_splits,
    load_digits,
    matching_pairs,
    memory_task,
    phrase_distribution,
)
from mmcourse.text import tokenize


def test_split_is_a_stratified_partition():
    images, labels = load_digits()
    train_idx, val_idx, test_idx = digits_splits(return_indices=True)
    everything = torch.cat([train_idx, val_idx, test_idx])
    assert torch.equal(everything.sort().values, torch.arange(len(labels)))  # disjoint, complete
    assert (len(train_idx), len(val_idx), len(test_idx)) == (1079, 359, 359)
    for idx, fraction in ((val_idx, 0.2), (test_idx, 0.2)):
        counts = torch.bincount(labels[idx], minlength=10)
        expected = (torch.bincount(labels, minlength=10) * fraction).round()
        assert (counts - expected).abs().max() <= 1
    train, val, test = digits_splits()
    for (x, y), idx in ((train, train_idx), (val, val_idx), (test, test_idx)):
        assert torch.equal(x, images[idx]) and torch.equal(y, labels[idx])
        assert x.shape[1:] == (1, 8, 8) and x.dtype == torch.float32


def test_split_depends_only_on_the_seed():
    a = digits_splits(seed=0, return_indices=True)
    b = digits_splits(seed=0, return_indices=True)
    c = digits_splits(seed=1, return_indices=True)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[2], c[2])


def test_fractions_change_the_sizes():
    train, val, test = digits_splits(val_fraction=0.1, test_fraction=0.3, return_indices=True)
    assert abs(len(val) - 180) <= 5 and abs(len(test) - 539) <= 5
    assert len(train) + len(val) + len(test) == 1797


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(val_fraction=0.0), ValueError, r"val_fraction.*\(0, 1\).*got 0.0"),
        (dict(test_fraction=1.5), ValueError, r"test_fraction.*\(0, 1\).*got 1.5"),
        (dict(test_fraction="0.2"), TypeError, r"test_fraction.*number.*str '0.2'"),
        (dict(val_fraction=0.5, test_fraction=0.5), ValueError, "must be below 1.*0.5 \\+ 0.5"),
        (dict(seed=1.5), TypeError, "seed.*int.*float 1.5"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        digits_splits(**kwargs)


# ---------------------------------------------------------------------------------------------
# The memory task


def test_memory_task():
    x, y = memory_task(6, 9, num_classes=3, noise=0.5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (6, 9, 4) and y.shape == (6,) and y.dtype == torch.int64
    torch.testing.assert_close(x[:, 0, :3], nn.functional.one_hot(y, 3).float())
    assert (x[:, 0, 3] == 1).all() and (x[:, 1:, 3] == 0).all()
    assert x[:, 1:, :3].std() > 0.3
    x2, y2 = memory_task(6, 9, num_classes=3, noise=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((4, 0), {}, ValueError, "length.*>= 1.*got 0"),
        ((4.0, 3), {}, TypeError, "n.*int.*float 4.0"),
        ((4, 3), dict(num_classes=1), ValueError, "num_classes.*>= 2.*got 1"),
        ((4, 3), dict(noise=-1.0), ValueError, "noise.*>= 0.0.*got -1.0"),
    ],
)
def test_memory_task_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        memory_task(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Digit phrases

_NUMBERS = {**{w: d for d, w in enumerate(DIGIT_WORDS)}, **{str(d): d for d in range(10)}}
_NUMBERS["nought"] = 0
_N = r"(\w+)"
_GRAMMAR = [  # (pattern, meaning): an independent reading of every template
    (rf"^(?:the digit |the number |a handwritten |it is |this shows )?{_N}$", lambda a: a),
    (rf"^{_N} plus {_N}$", lambda a, b: a + b),
    (rf"^{_N} minus {_N}$", lambda a, b: a - b),
    (rf"^{_N} more than {_N}$", lambda a, b: a + b),
    (rf"^{_N} less than {_N}$", lambda a, b: b - a),
    (rf"^twice {_N}$", lambda a: 2 * a),
    (rf"^half of {_N}$", lambda a: a / 2),
    (rf"^not {_N} but {_N}$", lambda a, b: b),
    (rf"^{_N}, not {_N}$", lambda a, b: a),
    (rf"^the first of {_N} and {_N}$", lambda a, b: a),
    (rf"^the second of {_N} and {_N}$", lambda a, b: b),
]


def _meaning(phrase: str) -> float:
    for pattern, meaning in _GRAMMAR:
        match = re.match(pattern, phrase)
        if match and all(g in _NUMBERS for g in match.groups()):
            return meaning(*(_NUMBERS[g] for g in match.groups()))
    raise AssertionError(f"unparsable phrase {phrase!r}")


@pytest.mark.parametrize("kind", PHRASE_KINDS)
def test_every_phrase_names_its_digit(kind):
    for digit in range(10):
        distribution = phrase_distribution(digit, kind)
        assert abs(sum(distribution.values()) - 1) < 1e-12
        for phrase in distribution:
            assert _meaning(phrase) == digit, (phrase, digit)


def test_order_phrases_need_the_order():
    # Every multiset of words of an order phrase is shared by exactly two digits, equally likely.
    bags = defaultdict(Counter)
    for digit in range(10):
        for phrase, p in phrase_distribution(digit, "order").items():
            bags[tuple(sorted(tokenize(phrase)))][digit] += p
    for labels in bags.values():
        assert len(labels) == 2
        a, b = labels.values()
        assert abs(a - b) < 1e-12
    # while naming and arithmetic phrases determine their digit from the bag alone
    for kind in ("name", "arithmetic"):
        seen = {}
        for digit in range(10):
            for phrase in phrase_distribution(digit, kind):
                assert seen.setdefault(tuple(sorted(tokenize(phrase))), digit) == digit


def test_digit_phrase_is_deterministic_and_follows_its_distribution():
    a = [digit_phrase(7, torch.Generator().manual_seed(3)) for _ in range(3)]
    b = [digit_phrase(7, torch.Generator().manual_seed(3)) for _ in range(3)]
    assert a == b
    torch.manual_seed(5)
    c = digit_phrases(torch.tensor([1, 2, 3]))
    torch.manual_seed(5)
    assert c == digit_phrases([1, 2, 3])
    generator = torch.Generator().manual_seed(0)
    n = 4000
    for digit, kind in [(4, "any"), (9, "arithmetic")]:
        drawn = Counter(digit_phrase(digit, generator, kind=kind) for _ in range(n))
        distribution = phrase_distribution(digit, kind)
        assert set(drawn) <= set(distribution)
        # Grouped by template (the numbers replaced), frequencies within 5 standard errors.
        by_template = defaultdict(lambda: [0.0, 0])
        for phrase, p in distribution.items():
            by_template[re.sub(r"\b(\w+)\b", lambda m: "N" if m[1] in _NUMBERS else m[1], phrase)][
                0
            ] += p
        for phrase, count in drawn.items():
            by_template[re.sub(r"\b(\w+)\b", lambda m: "N" if m[1] in _NUMBERS else m[1], phrase)][
                1
            ] += count
        for template, (p, count) in by_template.items():
            stderr = (p * (1 - p) / n) ** 0.5
            assert abs(count / n - p) < 5 * stderr + 1e-9, (template, p, count / n)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: digit_phrase(10), ValueError, "digit.*int.*0.*9.*got 10"),
        (lambda: digit_phrase(-1), ValueError, "digit.*int.*0.*9.*got -1"),
        (lambda: digit_phrase(3.0), TypeError, "digit.*int.*got float 3.0"),
        (lambda: digit_phrase(True), TypeError, "digit.*int.*got bool True"),
        (lambda: digit_phrase(3, kind="poem"), ValueError, "kind.*'any', 'name'.*'poem'"),
        (lambda: digit_phrase(3, generator=0), TypeError, "generator.*torch.Generator.*int 0"),
        (
            lambda: digit_phrases(torch.zeros(2, 2, dtype=torch.long)),
            ValueError,
            "labels.*1-D.*2-D",
        ),
        (lambda: digit_phrases(torch.tensor([1.0])), TypeError, "labels.*integer.*float32"),
        (
            lambda: digit_phrases("123"),
            TypeError,
            "labels.*1-D integer tensor or a list.*str '123'",
        ),
        (lambda: digit_phrases([1, 12]), ValueError, "digit.*<= 9.*got 12"),
        (lambda: phrase_distribution(11), ValueError, "digit.*<= 9.*got 11"),
        (lambda: phrase_distribution(1, "poem"), ValueError, "kind.*'order'.*'poem'"),
    ],
)
def test_phrase_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_tensor_digit_is_accepted():
    assert digit_phrase(torch.tensor(3), torch.Generator().manual_seed(0), kind="name")


# ---------------------------------------------------------------------------------------------
# Matching and mismatched pairs (chapter 10)


def test_matching_pairs_match_then_mismatch_every_sample():
    labels = torch.tensor([3, 1, 3, 7, 1, 1, 9, 3])
    first, second, match = matching_pairs(labels, torch.Generator().manual_seed(0))
    n = len(labels)
    assert first.shape == second.shape == match.shape == (2 * n,)
    assert first.dtype == second.dtype == torch.int64 and match.dtype == torch.float32
    assert torch.equal(first, torch.cat([torch.arange(n), torch.arange(n)]))
    assert torch.equal(second[:n], torch.arange(n)) and torch.equal(match[:n], torch.ones(n))
    assert torch.equal(match[n:], torch.zeros(n))
    assert (labels[second[n:]] != labels).all()  # a mismatch is always another class
    assert torch.equal(match, (labels[first] == labels[second]).float())


def test_matching_pairs_draw_classes_and_samples_uniformly():
    # Class 0 has 1 sample, class 1 has 3: drawing a partner sample uniformly would pick
    # class 1 three times as often, but the partner's class is drawn first, uniformly.
    labels = torch.tensor([0, 1, 1, 1, 2] * 2000)
    _, second, _ = matching_pairs(labels, torch.Generator().manual_seed(1))
    partner = labels[second[len(labels) :]]
    for own in (0, 1, 2):
        counts = torch.bincount(partner[labels == own], minlength=3).float()
        share = counts / counts.sum()
        assert share[own] == 0
        others = [c for c in (0, 1, 2) if c != own]
        assert torch.allclose(share[others], torch.full((2,), 0.5), atol=0.03), (own, share)
    ones = second[len(labels) :][partner == 1]
    assert set(ones.remainder(5).tolist()) == {1, 2, 3}  # every sample of class 1 is drawn


def test_matching_pairs_are_deterministic_given_the_generator():
    labels = torch.randint(0, 10, (50,), generator=torch.Generator().manual_seed(2))
    a = matching_pairs(labels, torch.Generator().manual_seed(5))
    b = matching_pairs(labels, torch.Generator().manual_seed(5))
    c = matching_pairs(labels, torch.Generator().manual_seed(6))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[1], c[1])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: matching_pairs([1, 2]), TypeError, "labels.*torch.Tensor.*list"),
        (lambda: matching_pairs(torch.tensor([1.0, 2.0])), TypeError, "labels.*integer.*float32"),
        (
            lambda: matching_pairs(torch.zeros(2, 2, dtype=torch.long)),
            ValueError,
            "labels.*1-D.*2-D",
        ),
        (lambda: matching_pairs(torch.tensor([4, 4, 4])), ValueError, "labels.*2 classes.*got 1"),
        (lambda: matching_pairs(torch.tensor([1, 2]), 0), TypeError, "generator.*Generator.*int 0"),
    ],
)
def test_matching_pairs_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# Numbers of several digits (chapter 9)


@pytest.mark.parametrize("split", ["train", "test"])
def test_digit_strings_are_real_digits_of_their_split_side_by_side(split):
    images, digits = digit_strings(50, 4, split, seed=3)
    assert images.shape == (50, 1, 8, 32) and images.dtype == torch.float32
    assert digits.shape == (50, 4) and digits.dtype == torch.int64
    pool_images, pool_labels = digits_splits(0)[("train", "val", "test").index(split)]
    flat = pool_images.flatten(1)  # (P, 64)
    for k in range(4):
        block = images[:, :, :, 8 * k : 8 * k + 8].flatten(1)  # (50, 64)
        same = (block[:, None, :] == flat[None, :, :]).all(-1)  # (50, P)
        assert same.any(1).all(), f"position {k}: not an image of the {split} split"
        for n in range(50):  # the label is the label of (one of) the matching images
            assert digits[n, k] in pool_labels[same[n]]
    assert len(set(digits.flatten().tolist())) == 10


def test_digit_strings_depend_on_the_seed_and_draw_positions_independently():
    a, b = digit_strings(200, 3, seed=1), digit_strings(200, 3, seed=1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(digit_strings(200, 3, seed=2)[1], a[1])
    digits = digit_strings(3000, 2, seed=0)[1]
    same = (digits[:, 0] == digits[:, 1]).float().mean().item()
    assert 0.07 < same < 0.13  # independent digits agree about 1 time in 10


@pytest.mark.parametrize(
    ("kwargs", "error", "facts"),
    [
        ({"n": 0}, ValueError, ["n must be an int >= 1", "got 0"]),
        ({"n": 5, "length": 0}, ValueError, ["length must be an int >= 1", "got 0"]),
        ({"n": 5, "split": "dev"}, ValueError, ["split", "'test'", "'dev'"]),
        ({"n": 2.0}, TypeError, ["n must be an int", "float 2.0"]),
    ],
)
def test_digit_strings_bad_arguments(kwargs, error, facts):
    with pytest.raises(error) as info:
        digit_strings(**kwargs)
    assert all(fact in str(info.value) for fact in facts), str(info.value)
