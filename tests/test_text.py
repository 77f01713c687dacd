"""mmcourse.text: tokens, vocabulary, padding, the digit phrases, and the two encoders."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmcourse.text import (
    DIGIT_WORDS,
    PHRASE_KINDS,
    BagOfEmbeddings,
    TextEncoder,
    Vocabulary,
    digit_phrase,
    digit_phrases,
    pad_sequences,
    phrase_distribution,
    tokenize,
)

# ---------------------------------------------------------------------------------------------
# Tokens and vocabulary


def test_tokenize():
    assert tokenize("Not 3, but SEVEN!") == ["not", "3", ",", "but", "seven", "!"]
    assert tokenize("  two\tplus\nfive ") == ["two", "plus", "five"]
    assert tokenize("") == []
    with pytest.raises(TypeError, match="text must be a str, got int"):
        tokenize(3)


def test_vocabulary_build_orders_by_count_then_alphabet():
    vocab = Vocabulary.build(["b a c", "a b", "a d"], min_count=1)
    assert vocab.itos == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert vocab.stoi["a"] == 2 and vocab["zzz"] == vocab.unk_id == 1 and vocab.pad_id == 0
    assert len(vocab) == 6 and "c" in vocab and "zzz" not in vocab
    assert Vocabulary.build(["b a c", "a b", "a d"], min_count=2).itos[2:] == ["a", "b"]
    assert Vocabulary.build(["b a c", "a b", "a d"], max_size=3).itos == ["<pad>", "<unk>", "a"]
    assert Vocabulary.build(t for t in ["x y", "y"]).itos[2:] == ["y", "x"]  # any iterable


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["a", "bb", "c", "dd", "7", ","]), max_size=6), min_size=1)
)
def test_encode_decode_round_trip(texts):
    texts = [" ".join(t) for t in texts]
    vocab = Vocabulary.build(texts)
    for text in texts:
        ids = vocab.encode(text)
        assert ids.dtype == torch.int64 and ids.dim() == 1
        assert (ids >= 2).all()  # every token is known
        assert vocab.decode(ids) == " ".join(tokenize(text))


def test_unknown_tokens_and_decode_options():
    vocab = Vocabulary.build(["seven minus two"])
    ids = vocab.encode(["twelve", "minus", "two"])
    assert ids[0] == 1 and vocab.decode(ids) == "<unk> minus two"
    assert vocab.decode(torch.tensor([vocab["two"], 0, 0])) == "two"
    assert vocab.decode([vocab["two"], 0], skip_pad=False) == "two <pad>"
    with pytest.raises(ValueError, match=r"id 99 is not in the vocabulary \(ids are 0..4\)"):
        vocab.decode([99])
    with pytest.raises(ValueError, match="1-D integer tensor"):
        vocab.decode(torch.zeros(2, 2))
    with pytest.raises(TypeError, match="single str"):
        Vocabulary.build("seven minus two")
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(["a"], min_count=0)
    with pytest.raises(TypeError, match="expected a str or a list of str tokens"):
        vocab.encode([1, 2])
    assert "Vocabulary(5 tokens" in repr(vocab)


def test_pad_sequences():
    padded, lengths = pad_sequences(
        [torch.tensor([5, 3, 8]), torch.tensor([2]), torch.tensor([7, 7])]
    )
    assert padded.tolist() == [[5, 3, 8], [2, 0, 0], [7, 7, 0]]
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == torch.int64
    padded, _ = pad_sequences([torch.tensor([4]), torch.tensor([1, 2])], padding_value=9)
    assert padded.tolist() == [[4, 9], [1, 2]]
    vocab = Vocabulary.build(["not two but seven", "seven"])
    tokens, lengths = vocab.encode_batch(["seven", "not two but seven"])
    assert tokens.shape == (2, 4) and lengths.tolist() == [1, 4]


@pytest.mark.parametrize(
    ("sequences", "error", "message"),
    [
        ([], ValueError, "sequences is empty"),
        (
            [torch.tensor([1]), torch.tensor([], dtype=torch.long)],
            ValueError,
            "sequence 1 is empty",
        ),
        ([torch.tensor([1.0, 2.0])], TypeError, "sequence 0 has dtype torch.float32"),
        ([torch.zeros(2, 2, dtype=torch.long)], ValueError, r"shape \(2, 2\); expected a 1-D"),
        ([[1, 2]], TypeError, "sequence 0 is a list"),
        (torch.zeros(2, 3, dtype=torch.long), TypeError, "list of 1-D tensors"),
    ],
)
def test_pad_sequences_rejects_bad_input(sequences, error, message):
    with pytest.raises(error, match=message):
        pad_sequences(sequences)


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
        (lambda: digit_phrase(10), ValueError, "digit must be in 0..9, got 10"),
        (lambda: digit_phrase(-1), ValueError, "digit must be in 0..9, got -1"),
        (lambda: digit_phrase(3.0), TypeError, "digit must be an int in 0..9, got float"),
        (lambda: digit_phrase(True), TypeError, "got bool"),
        (lambda: digit_phrase(3, kind="poem"), ValueError, "kind must be one of"),
        (lambda: digit_phrase(3, generator=0), TypeError, "generator must be a torch.Generator"),
        (lambda: digit_phrases(torch.zeros(2, 2, dtype=torch.long)), ValueError, "1-D integer"),
        (lambda: digit_phrases(torch.tensor([1.0])), ValueError, "1-D integer"),
        (lambda: digit_phrases("123"), TypeError, "labels must be"),
        (lambda: digit_phrases([1, 12]), ValueError, "got 12"),
        (lambda: phrase_distribution(11), ValueError, "0..9"),
    ],
)
def test_phrase_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_tensor_digit_is_accepted():
    assert digit_phrase(torch.tensor(3), torch.Generator().manual_seed(0), kind="name")


# ---------------------------------------------------------------------------------------------
# Encoders


def _batch(seed: int, n: int = 5, vocab_size: int = 20, max_len: int = 7):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (n,), generator=g)
    seqs = [torch.randint(1, vocab_size, (int(k),), generator=g) for k in lengths]
    return seqs, *pad_sequences(seqs)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    extra=st.integers(0, 4),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
)
def test_text_encoder_ignores_padding_and_batch_company(seed, extra, layers, bidirectional):
    torch.manual_seed(seed)
    encoder = TextEncoder(20, 6, 5, num_layers=layers, bidirectional=bidirectional).double()
    seqs, tokens, lengths = _batch(seed)
    features = encoder(tokens, lengths)
    assert features.shape == (len(seqs), encoder.out_dim)
    assert encoder.out_dim == 5 * (2 if bidirectional else 1)
    more = torch.cat([tokens, torch.zeros(len(seqs), extra, dtype=torch.long)], dim=1)
    torch.testing.assert_close(encoder(more, lengths), features)
    alone = torch.cat([encoder(s[None], torch.tensor([len(s)])) for s in seqs])
    torch.testing.assert_close(alone, features)


def test_text_encoder_is_the_lstm_state_after_the_last_token():
    torch.manual_seed(0)
    encoder = TextEncoder(20, 6, 5)
    seqs, tokens, lengths = _batch(1)
    for k, seq in enumerate(seqs):
        _, (h_n, _) = encoder.lstm(encoder.embedding(seq)[None])
        torch.testing.assert_close(encoder(tokens, lengths)[k], h_n[-1, 0])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_bag_of_embeddings_ignores_order_and_padding(seed):
    torch.manual_seed(seed)
    bag = BagOfEmbeddings(20, 6, 5).double()
    seqs, tokens, lengths = _batch(seed)
    features = bag(tokens, lengths)
    shuffled = [s[torch.randperm(len(s))] for s in seqs]
    torch.testing.assert_close(bag(*pad_sequences(shuffled)), features)
    more = torch.cat([tokens, torch.full((len(seqs), 3), 7)], dim=1)  # garbage, not even pad ids
    torch.testing.assert_close(bag(more, lengths), features)
    # The mean is nn.EmbeddingBag's mode="mean" on the concatenated sequences.
    reference = nn.EmbeddingBag(20, 6, mode="mean").double()
    reference.weight.data.copy_(bag.embedding.weight.data)
    offsets = torch.cumsum(torch.tensor([0] + [len(s) for s in seqs[:-1]]), 0)
    mean = reference(torch.cat(seqs), offsets)
    torch.testing.assert_close(features, torch.relu(bag.hidden(mean)))


@pytest.mark.parametrize("model", [TextEncoder(10), BagOfEmbeddings(10)])
@pytest.mark.parametrize(
    ("tokens", "lengths", "error", "message"),
    [
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([1, 2, 3]),
            ValueError,
            r"lengths must have shape \(2,\)",
        ),
        (torch.zeros(3, dtype=torch.long), torch.tensor([1]), ValueError, r"2-D tensor \(N, T\)"),
        (torch.zeros(2, 3), torch.tensor([1, 2]), TypeError, "integer ids"),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([0, 2]),
            ValueError,
            "sequence 0 has length 0",
        ),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([4, 2]),
            ValueError,
            "exceeds the padded length T = 3",
        ),
        (torch.full((2, 3), 10), torch.tensor([3, 2]), ValueError, r"token ids must be in 0..9"),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([1.0, 2.0]),
            TypeError,
            "lengths must be integers",
        ),
        ([[1, 2]], torch.tensor([2]), TypeError, "tokens and lengths must be tensors"),
    ],
)
def test_encoders_reject_bad_batches(model, tokens, lengths, error, message):
    with pytest.raises(error, match=message):
        model(tokens, lengths)


def test_encoder_trains_through_fit():
    # The interface the fusion chapter relies on: model(tokens, lengths) inside fit, on the device.
    from mmcourse.train import fit

    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (64,), generator=generator)
    vocab = Vocabulary.build(digit_phrases(labels, generator, kind="name"))
    tokens, lengths = vocab.encode_batch(digit_phrases(labels, generator, kind="name"))

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = TextEncoder(len(vocab), 8, 16)
            self.head = nn.Linear(self.encoder.out_dim, 10)

        def forward(self, tokens, lengths):
            return self.head(self.encoder(tokens, lengths))

    torch.manual_seed(0)
    history = fit(Classifier(), (tokens, lengths, labels), epochs=2, batch_size=16, lr=0.01)
    assert history.epochs == 2 and history.train_loss[-1] < history.train_loss[0]
