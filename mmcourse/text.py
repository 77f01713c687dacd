"""Text as a modality: tokens, a vocabulary and padded batches.

The path from a string to a feature vector:

1. ``tokenize`` splits a lowercased string into words, numbers and punctuation marks;
2. a ``Vocabulary`` maps each token to an integer id, with ``<pad>`` = 0 and ``<unk>`` = 1
   (every token it has not seen);
3. ``pad_sequences`` stacks sequences of different lengths into one ``(N, T)`` tensor padded with
   0, and returns their true ``lengths`` ``(N,)``;
4. an encoder from ``mmcourse.encoders`` turns ``(tokens, lengths)`` into an ``(N, out_dim)``
   feature: ``TextEncoder`` (embedding, then an LSTM over the packed sequences, reading each
   sequence in order) or ``BagOfEmbeddings`` (the mean of the word embeddings, blind to word
   order).

The course's texts, phrases that name a digit (``digit_phrase``), are data: ``mmcourse.data``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from mmcourse.validate import check_int, check_tensor, describe

__all__ = ["Vocabulary", "pad_sequences", "tokenize"]

_TOKEN = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and split it into words, numbers and single punctuation marks.

    ``tokenize("Not 3, but seven!") == ["not", "3", ",", "but", "seven", "!"]``
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {describe(text)}")
    return _TOKEN.findall(text.lower())


# ---------------------------------------------------------------------------------------------
# Vocabulary


class Vocabulary:
    """A two-way map between tokens and integer ids.

    Id 0 is ``<pad>`` (fills the end of short sequences in a batch) and id 1 is ``<unk>`` (stands
    for any token the vocabulary does not contain); the known tokens follow from id 2 on.
    ``len(vocab)`` counts all of them, so it is the ``num_embeddings`` of an ``nn.Embedding``.
    """

    PAD, UNK = "<pad>", "<unk>"
    pad_id, unk_id = 0, 1

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self.itos: list[str] = [self.PAD, self.UNK]
        self.stoi: dict[str, int] = {self.PAD: 0, self.UNK: 1}
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"tokens must be strings, got {describe(token)}")
            if token not in self.stoi:
                self.stoi[token] = len(self.itos)
                self.itos.append(token)

    @classmethod
    def build(
        cls, texts: Iterable[str], min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """The vocabulary of ``texts``: tokens seen at least ``min_count`` times.

        Ids are given by decreasing count, ties in alphabetical order, so the result does not
        depend on the order of ``texts``. ``max_size`` caps ``len(vocab)`` (the two special
        tokens included) by keeping the most frequent tokens.
        """
        if isinstance(texts, str):
            raise TypeError(
                f"texts must be a collection of strings, got a single {describe(texts)}"
            )
        min_count = check_int(min_count, "min_count", 1)
        if max_size is not None:
            max_size = check_int(max_size, "max_size", 2)
        counts = Counter(token for text in texts for token in tokenize(text))
        counts.pop(cls.PAD, None)
        counts.pop(cls.UNK, None)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls(kept)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """The id of ``token`` (``unk_id`` when unknown)."""
        return self.stoi.get(token, self.unk_id)

    def __repr__(self) -> str:
        preview = ", ".join(self.itos[2:8])
        more = ", ..." if len(self) > 8 else ""
        return f"Vocabulary({len(self)} tokens: <pad>, <unk>, {preview}{more})"

    def encode(self, text: str | Sequence[str]) -> Tensor:
        """Token ids of a string (tokenized first) or of a list of tokens, as a 1-D int64 tensor.

        Unknown tokens become ``unk_id`` (1).
        """
        tokens = tokenize(text) if isinstance(text, str) else text
        if not isinstance(tokens, Sequence) or not all(isinstance(t, str) for t in tokens):
            raise TypeError(f"text must be a str or a list of str tokens, got {describe(text)}")
        return torch.tensor([self[t] for t in tokens], dtype=torch.int64)

    def decode(self, ids: Tensor | Sequence[int], skip_pad: bool = True) -> str:
        """The tokens of ``ids`` joined by spaces (``<pad>`` left out unless ``skip_pad=False``)."""
        if isinstance(ids, Tensor):
            ids = check_tensor(ids, "ids", 1, floating=False).tolist()
        words = []
        for k, i in enumerate(ids):
            i = check_int(i, f"ids[{k}]", 0, len(self) - 1)
            if i == self.pad_id and skip_pad:
                continue
            words.append(self.itos[i])
        return " ".join(words)

    def encode_batch(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """``pad_sequences`` of the encoded ``texts``: ``(tokens (N, T), lengths (N,))``."""
        if isinstance(texts, str):
            raise TypeError(f"texts must be a list of strings, got a single {describe(texts)}")
        return pad_sequences([self.encode(text) for text in texts])


def pad_sequences(sequences: Sequence[Tensor], padding_value: int = 0) -> tuple[Tensor, Tensor]:
    """Stack 1-D integer sequences of different lengths into one padded batch.

    Returns ``(padded, lengths)``: ``padded`` ``(N, T)`` with ``T = max(lengths)``, sequence ``k``
    in ``padded[k, :lengths[k]]`` and ``padding_value`` after it; ``lengths`` ``(N,)`` int64.
    Every sequence needs at least one token (an empty one cannot be packed for an RNN).
    """
    if isinstance(sequences, Tensor) or not isinstance(sequences, Sequence):
        raise TypeError(f"sequences must be a list of 1-D tensors, got {describe(sequences)}")
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence, got an empty list")
    for k, seq in enumerate(sequences):
        check_tensor(seq, f"sequences[{k}]", 1, floating=False)
        if seq.numel() == 0:
            raise ValueError(
                f"sequences[{k}] must hold at least one token, got an empty tensor "
                "(encode a placeholder such as <unk> for an empty text)"
            )
    lengths = torch.tensor([len(seq) for seq in sequences], dtype=torch.int64)
    padded = torch.full(
        (len(sequences), int(lengths.max())),
        padding_value,
        dtype=torch.int64,
        device=sequences[0].device,
    )
    for k, seq in enumerate(sequences):
        padded[k, : len(seq)] = seq
    return padded, lengths
