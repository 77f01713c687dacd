"""Text as a modality: tokens, a vocabulary, padded batches, digit phrases and sequence encoders.

The path from a string to a feature vector:

1. ``tokenize`` splits a lowercased string into words, numbers and punctuation marks;
2. a ``Vocabulary`` maps each token to an integer id, with ``<pad>`` = 0 and ``<unk>`` = 1
   (every token it has not seen);
3. ``pad_sequences`` stacks sequences of different lengths into one ``(N, T)`` tensor padded with
   0, and returns their true ``lengths`` ``(N,)``;
4. an encoder turns ``(tokens, lengths)`` into an ``(N, out_dim)`` feature: ``TextEncoder``
   (embedding, then an LSTM over the packed sequences, reading each sequence in order) or
   ``BagOfEmbeddings`` (the mean of the word embeddings, blind to word order).

``digit_phrase`` writes a short English phrase that names a digit, the course's text modality
("the number seven", "two plus five", "not three but eight"). ``phrase_distribution`` lists the
exact probability of every phrase it can write, so that what any model can achieve on them can be
computed rather than guessed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = [
    "DIGIT_WORDS",
    "PHRASE_KINDS",
    "BagOfEmbeddings",
    "TextEncoder",
    "Vocabulary",
    "digit_phrase",
    "digit_phrases",
    "pad_sequences",
    "phrase_distribution",
    "tokenize",
]

_TOKEN = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and split it into words, numbers and single punctuation marks.

    ``tokenize("Not 3, but seven!") == ["not", "3", ",", "but", "seven", "!"]``
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
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
                raise TypeError(f"tokens must be str, got {type(token).__name__} {token!r}")
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
            raise TypeError("texts must be a collection of strings, not a single str")
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 2):
            raise ValueError(f"max_size must be None or an int >= 2, got {max_size!r}")
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
            raise TypeError(f"expected a str or a list of str tokens, got {type(text).__name__}")
        return torch.tensor([self[t] for t in tokens], dtype=torch.int64)

    def decode(self, ids: Tensor | Sequence[int], skip_pad: bool = True) -> str:
        """The tokens of ``ids`` joined by spaces (``<pad>`` left out unless ``skip_pad=False``)."""
        if isinstance(ids, Tensor):
            if ids.dim() != 1 or ids.is_floating_point():
                raise ValueError(
                    f"expected a 1-D integer tensor of ids, got {ids.dtype} {tuple(ids.shape)}"
                )
            ids = ids.tolist()
        words = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self):
                raise ValueError(f"id {i!r} is not in the vocabulary (ids are 0..{len(self) - 1})")
            if i == self.pad_id and skip_pad:
                continue
            words.append(self.itos[i])
        return " ".join(words)

    def encode_batch(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """``pad_sequences`` of the encoded ``texts``: ``(tokens (N, T), lengths (N,))``."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a single str")
        return pad_sequences([self.encode(text) for text in texts])


def pad_sequences(sequences: Sequence[Tensor], padding_value: int = 0) -> tuple[Tensor, Tensor]:
    """Stack 1-D integer sequences of different lengths into one padded batch.

    Returns ``(padded, lengths)``: ``padded`` ``(N, T)`` with ``T = max(lengths)``, sequence ``k``
    in ``padded[k, :lengths[k]]`` and ``padding_value`` after it; ``lengths`` ``(N,)`` int64.
    Every sequence needs at least one token (an empty one cannot be packed for an RNN).
    """
    if isinstance(sequences, Tensor) or not isinstance(sequences, Sequence):
        raise TypeError(f"sequences must be a list of 1-D tensors, got {type(sequences).__name__}")
    if len(sequences) == 0:
        raise ValueError("sequences is empty: need at least one sequence")
    for k, seq in enumerate(sequences):
        if not isinstance(seq, Tensor):
            raise TypeError(f"sequence {k} is a {type(seq).__name__}; expected a 1-D tensor")
        if seq.dim() != 1:
            raise ValueError(f"sequence {k} has shape {tuple(seq.shape)}; expected a 1-D tensor")
        if seq.is_floating_point() or seq.dtype == torch.bool:
            raise TypeError(f"sequence {k} has dtype {seq.dtype}; token ids must be integers")
        if seq.numel() == 0:
            raise ValueError(
                f"sequence {k} is empty; every sequence needs at least one token "
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


# ---------------------------------------------------------------------------------------------
# Digit phrases

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PHRASE_KINDS = ("any", "name", "arithmetic", "order")
# How a phrase of kind "any" is drawn: (kind, weight out of 10).
_ANY_MIX = (("name", 5), ("arithmetic", 3), ("order", 2))


def _names(digit: int) -> tuple[str, ...]:
    """The ways a phrase may write a digit: its word, its numeral (and "nought" for zero)."""
    extra = ("nought",) if digit == 0 else ()
    return (DIGIT_WORDS[digit], str(digit), *extra)


Operands = Callable[[int], list[tuple[int, ...]]]
# (template, operands for a label d): each operand tuple fills the {0}, {1} slots.
_TEMPLATES: dict[str, list[tuple[str, Operands]]] = {
    "name": [
        (frame, lambda d: [(d,)])
        for frame in (
            "{0}",
            "the digit {0}",
            "the number {0}",
            "a handwritten {0}",
            "it is {0}",
            "this shows {0}",
        )
    ],
    "arithmetic": [
        ("{0} plus {1}", lambda d: [(a, d - a) for a in range(d + 1)]),
        ("{0} minus {1}", lambda d: [(a, a - d) for a in range(d, 10)]),
        ("{0} more than {1}", lambda d: [(a, d - a) for a in range(1, d + 1)]),
        ("{0} less than {1}", lambda d: [(a, a + d) for a in range(1, 10 - d)]),
        ("twice {0}", lambda d: [(d // 2,)] if d % 2 == 0 else []),
        ("half of {0}", lambda d: [(2 * d,)] if 2 * d <= 9 else []),
    ],
    # Word order decides the answer: both orders of the same words are valid phrases.
    "order": [
        ("not {0} but {1}", lambda d: [(a, d) for a in range(10) if a != d]),
        ("{1}, not {0}", lambda d: [(a, d) for a in range(10) if a != d]),
        ("the first of {1} and {0}", lambda d: [(a, d) for a in range(10) if a != d]),
        ("the second of {0} and {1}", lambda d: [(a, d) for a in range(10) if a != d]),
    ],
}


def _check_digit(digit: object) -> int:
    if isinstance(digit, Tensor) and digit.dim() == 0 and not digit.is_floating_point():
        digit = int(digit.item())
    if isinstance(digit, bool) or not isinstance(digit, int):
        raise TypeError(f"digit must be an int in 0..9, got {type(digit).__name__} {digit!r}")
    if not 0 <= digit <= 9:
        raise ValueError(f"digit must be in 0..9, got {digit}")
    return digit


def _check_kind(kind: object) -> str:
    if kind not in PHRASE_KINDS:
        raise ValueError(f"kind must be one of {PHRASE_KINDS}, got {kind!r}")
    return kind  # type: ignore[return-value]


def _choice(n: int, generator: torch.Generator | None) -> int:
    """A uniform index in ``0 .. n-1``."""
    return int(torch.randint(n, (1,), generator=generator))


def digit_phrase(digit: int, generator: torch.Generator | None = None, *, kind: str = "any") -> str:
    """A short English phrase that names ``digit`` (0..9), drawn at random.

    ``kind`` picks the family: ``"name"`` ("the number seven", "a handwritten 7"),
    ``"arithmetic"`` ("two plus five", "nine minus two", "two less than nine", "half of eight"),
    ``"order"`` ("not two but seven", "seven, not two", "the first of seven and two"), where the
    same words in another order name another digit, or ``"any"`` (name 50%, arithmetic 30%,
    order 20%). Within a family the template is uniform among those that can produce ``digit``,
    its operands uniform among those that give ``digit``, and each number is written as a word
    or a numeral at random. Deterministic given ``generator`` (``None``: PyTorch's global
    generator, seeded by ``mmcourse.set_seed``). ``phrase_distribution`` gives the exact
    probability of every phrase.
    """
    digit = _check_digit(digit)
    kind = _check_kind(kind)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    if kind == "any":
        draw = _choice(10, generator)
        for family, weight in _ANY_MIX:
            if draw < weight:
                kind = family
                break
            draw -= weight
    templates = [(t, ops) for t, f in _TEMPLATES[kind] if (ops := f(digit))]
    template, operands = templates[_choice(len(templates), generator)]
    numbers = operands[_choice(len(operands), generator)]
    words = []
    for number in numbers:
        names = _names(number)
        words.append(names[_choice(len(names), generator)])
    return template.format(*words)


def digit_phrases(
    labels: Tensor | Sequence[int], generator: torch.Generator | None = None, *, kind: str = "any"
) -> list[str]:
    """One ``digit_phrase`` per label, in order (``labels``: a 1-D integer tensor or a list)."""
    if isinstance(labels, Tensor):
        if labels.dim() != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
            raise ValueError(
                f"labels must be a 1-D integer tensor, got {labels.dtype} of shape "
                f"{tuple(labels.shape)}"
            )
        labels = labels.tolist()
    elif not isinstance(labels, Sequence) or isinstance(labels, str):
        raise TypeError(
            f"labels must be a 1-D integer tensor or a list, got {type(labels).__name__}"
        )
    return [digit_phrase(label, generator, kind=kind) for label in labels]


def phrase_distribution(digit: int, kind: str = "any") -> dict[str, float]:
    """The exact probability of every phrase ``digit_phrase(digit, kind=kind)`` can return.

    The values sum to 1. Useful to compute what a model can achieve at best: for example the
    accuracy ceiling of a model that sees only the multiset of words.
    """
    digit = _check_digit(digit)
    kind = _check_kind(kind)
    mix = _ANY_MIX if kind == "any" else ((kind, 10),)
    probabilities: dict[str, float] = {}
    for family, weight in mix:
        templates = [(t, ops) for t, f in _TEMPLATES[family] if (ops := f(digit))]
        for template, operands in templates:
            for numbers in operands:
                p = weight / 10 / len(templates) / len(operands)
                spellings: list[tuple[list[str], float]] = [([], p)]
                for number in numbers:
                    names = _names(number)
                    spellings = [(w + [n], q / len(names)) for w, q in spellings for n in names]
                for words, q in spellings:
                    phrase = template.format(*words)
                    probabilities[phrase] = probabilities.get(phrase, 0.0) + q
    return probabilities


# ---------------------------------------------------------------------------------------------
# Encoders


def _check_batch(tokens: Tensor, lengths: Tensor, vocab_size: int) -> None:
    """Validate a padded batch ``tokens (N, T)`` with ``lengths (N,)``."""
    if not isinstance(tokens, Tensor) or not isinstance(lengths, Tensor):
        raise TypeError(
            f"tokens and lengths must be tensors, got {type(tokens).__name__} and "
            f"{type(lengths).__name__}"
        )
    if tokens.dim() != 2:
        raise ValueError(
            f"tokens must be a 2-D tensor (N, T) of token ids, got shape {tuple(tokens.shape)}"
        )
    if tokens.is_floating_point() or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must hold integer ids, got dtype {tokens.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != tokens.shape[0]:
        raise ValueError(
            f"lengths must have shape ({tokens.shape[0]},), one per sequence, got "
            f"{tuple(lengths.shape)}"
        )
    if lengths.is_floating_point():
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    if tokens.shape[0] == 0:
        raise ValueError("the batch is empty (0 sequences)")
    if int(lengths.min()) < 1:
        k = int(lengths.argmin())
        raise ValueError(
            f"sequence {k} has length {int(lengths[k])}; every sequence needs >= 1 token"
        )
    if int(lengths.max()) > tokens.shape[1]:
        raise ValueError(
            f"a length of {int(lengths.max())} exceeds the padded length T = {tokens.shape[1]}"
        )
    if int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size:
        raise ValueError(
            f"token ids must be in 0..{vocab_size - 1} (vocab_size={vocab_size}), got ids from "
            f"{int(tokens.min())} to {int(tokens.max())}"
        )


class TextEncoder(nn.Module):
    """Token ids to one feature vector per sequence: embedding, then an LSTM that reads in order.

    ``forward(tokens, lengths)`` takes a padded batch ``tokens`` ``(N, T)`` (int64, padding id
    ``padding_idx``) and the true ``lengths`` ``(N,)``, and returns ``(N, out_dim)``: the last
    layer's hidden state after each sequence's last real token (``out_dim = hidden_size``, twice
    that when ``bidirectional``, the forward and backward final states concatenated). The
    sequences are packed (``pack_padded_sequence``), so the LSTM never reads the padding and the
    result does not depend on how much padding there is.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 32,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
        )
        self.out_dim = hidden_size * (2 if bidirectional else 1)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """``(N, T)`` ids and ``(N,)`` lengths -> ``(N, out_dim)`` features."""
        _check_batch(tokens, lengths, self.vocab_size)
        embedded = self.embedding(tokens)  # (N, T, E)
        packed = pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.lstm(packed)  # h_n: (num_layers * directions, N, H), input order
        if self.lstm.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=1)
        return h_n[-1]


class BagOfEmbeddings(nn.Module):
    """Token ids to one feature vector per sequence, ignoring word order.

    ``forward(tokens, lengths)`` averages the embeddings of each sequence's real tokens
    (``mean_t E[tokens[n, t]]`` over ``t < lengths[n]``), then applies ``Linear`` and ``ReLU``:
    ``(N, T)``, ``(N,)`` -> ``(N, out_dim)`` with ``out_dim = hidden_size``. Any reordering of a
    sequence's tokens gives the same output.
    """

    def __init__(
        self, vocab_size: int, embedding_dim: int = 32, hidden_size: int = 64, padding_idx: int = 0
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.hidden = nn.Linear(embedding_dim, hidden_size)
        self.out_dim = hidden_size

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """``(N, T)`` ids and ``(N,)`` lengths -> ``(N, out_dim)`` features."""
        _check_batch(tokens, lengths, self.vocab_size)
        mask = (
            torch.arange(tokens.shape[1], device=tokens.device)[None, :]
            < lengths.to(tokens.device)[:, None]
        )  # (N, T): True on real tokens
        embedded = self.embedding(tokens) * mask[..., None]
        mean = embedded.sum(dim=1) / mask.sum(dim=1, keepdim=True)
        return torch.relu(self.hidden(mean))
