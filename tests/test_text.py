"""mmcourse.text: tokens, vocabulary and padding (the text encoders: tests/test_encoders.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcourse.text import Vocabulary, pad_sequences, tokenize

# ---------------------------------------------------------------------------------------------
# Tokens and vocabulary


def test_tokenize():
    assert tokenize("Not 3, but SEVEN!") == ["not", "3", ",", "but", "seven", "!"]
    assert tokenize("  two\tplus\nfive ") == ["two", "plus", "five"]
    assert tokenize("") == []
    with pytest.raises(TypeError, match="text.*str.*got int 3"):
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
    with pytest.raises(ValueError, match=r"ids\[0\].*<= 4.*got 99"):
        vocab.decode([99])
    with pytest.raises(ValueError, match=r"ids.*1-D.*2-D"):
        vocab.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match=r"ids.*integer.*float32"):
        vocab.decode(torch.zeros(2))
    with pytest.raises(TypeError, match="texts.*collection of strings.*single str 'seven minus"):
        Vocabulary.build("seven minus two")
    with pytest.raises(ValueError, match="min_count.*>= 1.*got 0"):
        Vocabulary.build(["a"], min_count=0)
    with pytest.raises(ValueError, match="max_size.*>= 2.*got 1"):
        Vocabulary.build(["a"], max_size=1)
    with pytest.raises(TypeError, match=r"text.*str or a list of str tokens.*list \[1, 2\]"):
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
        ([], ValueError, "sequences.*at least one.*empty"),
        (
            [torch.tensor([1]), torch.tensor([], dtype=torch.long)],
            ValueError,
            r"sequences\[1\].*at least one token.*empty",
        ),
        ([torch.tensor([1.0, 2.0])], TypeError, r"sequences\[0\].*integer.*float32"),
        ([torch.zeros(2, 2, dtype=torch.long)], ValueError, r"sequences\[0\].*1-D.*\(2, 2\)"),
        ([[1, 2]], TypeError, r"sequences\[0\].*torch\.Tensor.*list \[1, 2\]"),
        (
            torch.zeros(2, 3, dtype=torch.long),
            TypeError,
            r"sequences.*list of 1-D tensors.*tensor of shape \(2, 3\)",
        ),
    ],
)
def test_pad_sequences_rejects_bad_input(sequences, error, message):
    with pytest.raises(error, match=message):
        pad_sequences(sequences)
