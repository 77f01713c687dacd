"""The course's data, made offline and deterministically.

* ``load_digits`` returns the 1,797 real 8×8 handwritten digits that scikit-learn ships inside
  its package (no download), as tensors ready for a convolutional network; ``digits_splits``
  splits them (chapter 3).
* ``memory_task`` makes sequences whose label is shown at the first step only (chapters 4, 5).
* ``digit_phrase`` writes a short English phrase that names a digit ("the number seven", "two
  plus five", "not three but eight"), the course's text; ``phrase_distribution`` lists the exact
  probability of every phrase it can write, so that what any model can achieve on them can be
  computed rather than guessed (chapter 6).
* ``MultimodalDigits`` pairs every image with the keypad tone of its digit
  (``mmcourse.audio.dtmf_batch``) and a phrase naming it, each degraded as a ``Corruption``
  says: the course's running multimodal example (chapter 8).
* ``digit_strings`` writes numbers of several handwritten digits side by side, a task whose
  answer has several parts (chapter 9's emergence experiment).
* ``matching_pairs`` pairs every sample with its own and with a mismatched partner, for
  "does this phrase describe this image?" (chapter 10).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.utils.data import Dataset

from mmcourse.validate import check_choice, check_int, check_number, check_tensor, describe

if TYPE_CHECKING:
    from mmcourse.text import Vocabulary

__all__ = [
    "CLEAN",
    "Batch",
    "DIGIT_WORDS",
    "MODALITIES",
    "PHRASE_KINDS",
    "Corruption",
    "MultimodalDigits",
    "digit_phrase",
    "digit_phrases",
    "digit_strings",
    "digits_splits",
    "load_digits",
    "matching_pairs",
    "memory_task",
    "phrase_distribution",
    "phrase_vocabulary",
    "take",
]


def load_digits() -> tuple[Tensor, Tensor]:
    """The scikit-learn digits as ``(images, labels)``.

    ``images``: ``(1797, 1, 8, 8)`` float32 in ``[0, 1]`` (the original 0..16 gray levels / 16);
    ``labels``: ``(1797,)`` int64 in ``0..9``. Always the same tensors, on every machine.
    """
    images, labels = _digits()
    return images.clone(), labels.clone()  # the caller may modify them; the cache stays intact


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits as sklearn_digits  # imported where it is used

    digits = sklearn_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return images, labels


def digits_splits(
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    return_indices: bool = False,
) -> (
    tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor], tuple[Tensor, Tensor]]
    | tuple[Tensor, Tensor, Tensor]
):
    """A fixed, stratified train/validation/test split of ``load_digits()``.

    Returns ``(train, val, test)``, each a pair ``(images, labels)`` ready for
    ``mmcourse.train.fit``. Every digit class is split in the same proportions: of its ``n_c``
    images, ``round(n_c * test_fraction)`` go to the test set, ``round(n_c * val_fraction)``
    to the validation set and the rest to training (with the defaults about 1,079 / 359 / 359
    images). The split depends only on ``seed``: the same seed gives the same split on every
    machine. With ``return_indices=True`` the three sorted index tensors into ``load_digits()``
    are returned instead, so other modalities can be aligned with the same split.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 < check_number(value, name) < 1:
            raise ValueError(f"{name} must be a number in (0, 1), got {value}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 to leave training data, "
            f"got {val_fraction} + {test_fraction}"
        )
    seed = check_int(seed, "seed")
    images, labels = load_digits()
    generator = torch.Generator().manual_seed(seed)
    parts: tuple[list[Tensor], list[Tensor], list[Tensor]] = ([], [], [])
    for digit in range(10):
        index = (labels == digit).nonzero().flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        n_test = round(len(index) * test_fraction)
        n_val = round(len(index) * val_fraction)
        parts[2].append(index[:n_test])
        parts[1].append(index[n_test : n_test + n_val])
        parts[0].append(index[n_test + n_val :])
    train, val, test = (torch.cat(part).sort().values for part in parts)
    if return_indices:
        return train, val, test
    return (images[train], labels[train]), (images[val], labels[val]), (images[test], labels[test])


# ---------------------------------------------------------------------------------------------
# A task that needs memory (chapters 4 and 5)


def memory_task(
    n: int,
    length: int,
    num_classes: int = 4,
    noise: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sequences whose label is shown at the first step only, followed by noise.

    Returns ``(x, labels)``: ``x`` of shape ``(n, length, num_classes + 1)`` and ``labels`` of
    shape ``(n,)`` (int64 in ``0 .. num_classes - 1``). Step 0 of sequence ``k`` is the one-hot
    vector of ``labels[k]`` with the last feature (a marker) set to 1; every later step is
    Gaussian noise of standard deviation ``noise`` in the first ``num_classes`` features, marker 0.
    A model that reads the whole sequence and answers at the end must carry the first step
    across ``length - 1`` noisy steps; guessing gives ``1 / num_classes``. Deterministic given
    ``generator``.
    """
    n = check_int(n, "n", 1)
    length = check_int(length, "length", 1)
    num_classes = check_int(num_classes, "num_classes", 2)
    noise = check_number(noise, "noise", 0.0)
    labels = torch.randint(0, num_classes, (n,), generator=generator)
    x = noise * torch.randn(n, length, num_classes + 1, generator=generator)
    x[:, :, num_classes] = 0.0
    x[:, 0] = torch.nn.functional.one_hot(labels, num_classes + 1).float()
    x[:, 0, num_classes] = 1.0
    return x, labels


# ---------------------------------------------------------------------------------------------
# Digit phrases (chapter 6)

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
    digit = check_int(digit, "digit", 0, 9)
    check_choice(kind, "kind", PHRASE_KINDS)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {describe(generator)}")
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
        labels = check_tensor(labels, "labels", 1, floating=False).tolist()
    elif not isinstance(labels, Sequence) or isinstance(labels, str):
        raise TypeError(f"labels must be a 1-D integer tensor or a list, got {describe(labels)}")
    return [digit_phrase(label, generator, kind=kind) for label in labels]


def phrase_distribution(digit: int, kind: str = "any") -> dict[str, float]:
    """The exact probability of every phrase ``digit_phrase(digit, kind=kind)`` can return.

    The values sum to 1. Useful to compute what a model can achieve at best: for example the
    accuracy ceiling of a model that sees only the multiset of words.
    """
    digit = check_int(digit, "digit", 0, 9)
    check_choice(kind, "kind", PHRASE_KINDS)
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
# Multimodal digits: an image, a tone and a phrase for every digit (chapter 8)


MODALITIES = ("image", "text", "audio")
Batch = tuple[dict[str, Tensor | tuple[Tensor, Tensor]], Tensor, Tensor]
"""A multimodal batch ``(inputs, mask, labels)``; ``inputs["text"]`` is ``(tokens, lengths)``."""


@dataclass(frozen=True)
class Corruption:
    """How much each modality of ``MultimodalDigits`` is degraded.

    * ``image_noise``: standard deviation of Gaussian noise added to every pixel (images are in
      ``[0, 1]``; the result is clipped back to ``[0, 1]``);
    * ``image_occlusion``: side, in pixels, of a square at a random place set to 0 (0: none);
    * ``audio_snr_db``: signal-to-noise ratio of the white noise added to every tone
      (``None``: clean tones);
    * ``text_drop``: probability that each word of a phrase is dropped (a phrase that loses every
      word becomes the single token ``<unk>``);
    * ``text_replace``: probability that each remaining word is replaced by a random word;
    * ``missing``: for each modality (image, text, audio), the probability that a sample has
      none of it: its input is zeroed (a single padding token for text) and its mask entry is 0.

    The defaults make every modality alone clearly unreliable, so that fusion has work to do: with
    the fusion chapter's small encoders, trained on half of the training images, each modality
    alone reaches between 40% and 70% test accuracy, and the best fusion of the three over 85%
    (the chapter asserts both).
    """

    image_noise: float = 0.3
    image_occlusion: int = 3
    audio_snr_db: float | None = -14.0
    text_drop: float = 0.1
    text_replace: float = 0.1
    missing: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        check_number(self.image_noise, "image_noise", 0.0)
        check_int(self.image_occlusion, "image_occlusion", 0, 8)
        if self.audio_snr_db is not None:
            check_number(self.audio_snr_db, "audio_snr_db")
        for name in ("text_drop", "text_replace"):
            if check_number(getattr(self, name), name, 0.0) >= 1:
                raise ValueError(
                    f"{name} must be a probability in [0, 1), got {getattr(self, name)}"
                )
        if not isinstance(self.missing, Sequence) or len(self.missing) != 3:
            raise ValueError(
                f"missing must be 3 probabilities (image, text, audio), got {self.missing!r}"
            )
        for m, p in enumerate(self.missing):
            if check_number(p, f"missing[{m}]", 0.0) > 1:
                raise ValueError(f"missing[{m}] must be a probability in [0, 1], got {p}")


CLEAN = Corruption(
    image_noise=0.0, image_occlusion=0, audio_snr_db=None, text_drop=0.0, text_replace=0.0
)


def phrase_vocabulary() -> Vocabulary:
    """The vocabulary of every phrase ``digit_phrase`` can write, the same on every machine."""
    from mmcourse.text import Vocabulary

    return Vocabulary.build(p for d in range(10) for p in phrase_distribution(d))


def matching_pairs(
    labels: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Matching and mismatched pairs of samples: ``(first, second, match)``, each ``(2N,)``.

    For ``labels`` ``(N,)`` (integer class labels), pair ``k < N`` is sample ``k`` with itself
    (``first[k] = second[k] = k``, ``match[k] = 1``) and pair ``N + k`` is sample ``k`` with a
    sample of another class (``labels[second[N + k]] != labels[k]``, ``match[N + k] = 0``):
    that class is drawn uniformly among the other classes present in ``labels``, then the sample
    uniformly among those of that class. Index one modality with ``first`` and another with
    ``second`` (``images[first]``, ``tokens[second]``) to ask "does this phrase describe this
    image?", half of the answers yes. ``first`` and ``second`` are int64, ``match`` float32 (a
    target for ``F.binary_cross_entropy_with_logits``), all on the CPU. Deterministic given
    ``generator``.
    """
    check_tensor(labels, "labels", 1, floating=False)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {describe(generator)}")
    classes, which = torch.unique(labels.cpu(), return_inverse=True)  # which: (N,) in 0..K-1
    k = len(classes)
    if k < 2:
        raise ValueError(
            f"labels must hold at least 2 classes to draw mismatched pairs, got {k}: "
            f"{classes.tolist()}"
        )
    n = labels.shape[0]
    offset = torch.randint(1, k, (n,), generator=generator)  # another class, uniformly
    partner_class = (which + offset) % k
    order = torch.argsort(which, stable=True)  # the samples grouped by class
    counts = torch.bincount(which, minlength=k)
    starts = torch.cumsum(counts, 0) - counts
    draw = torch.rand(n, generator=generator)
    pick = (draw * counts[partner_class]).long().clamp(max=counts[partner_class] - 1)
    partner = order[starts[partner_class] + pick]
    index = torch.arange(n)
    first = torch.cat([index, index])
    second = torch.cat([index, partner])
    match = torch.cat([torch.ones(n), torch.zeros(n)])
    return first, second, match


class MultimodalDigits(Dataset):
    """Every sample: a real handwritten digit, its keypad tone and a phrase naming it.

    ``split`` is ``"train"``, ``"val"`` or ``"test"`` of ``digits_splits(split_seed)``, so the
    three never share an image. ``repeats`` pairs each image with that many different tones and
    phrases (training data can use several). Everything random (tones, phrases, corruption, which
    modalities are missing) is drawn from a generator seeded by ``seed`` and the split, so the
    same arguments give the same tensors on every machine.

    A batch is ``(inputs, mask, labels)``: ``inputs`` maps each name of ``MODALITIES`` to what
    its encoder reads,

    * ``"image"``: images ``(N, 1, 8, 8)``;
    * ``"text"``: the pair ``(tokens (N, T), lengths (N,))``, padded by ``pad_sequences``;
    * ``"audio"``: waveforms ``(N, L)``;

    ``mask`` ``(N, 3)`` is 1 where a modality is present (columns in the order of
    ``MODALITIES``) and ``labels`` ``(N,)`` are the digits. ``tensors()`` returns the whole split
    as one such batch, ``collate`` makes one from samples (a ``DataLoader``'s ``collate_fn``),
    ``take(batch, keep)`` selects samples of one, ``image_ids`` ``(N,)`` says which image each
    sample shows (to split by image, so that the copies of an image stay on one side),
    and ``dataset[i]`` is one sample ``(inputs, mask (3,), label)`` with ``inputs["text"]`` the
    tokens ``(T_i,)`` alone. ``mmcourse.train.fit`` trains a ``MultimodalClassifier`` on such
    data, calling ``model(inputs, mask)`` on each batch.
    """

    def __init__(
        self,
        split: str = "train",
        seed: int = 0,
        corruption: Corruption | None = None,
        repeats: int = 1,
        split_seed: int = 0,
        sample_rate: int = 8000,
        num_samples: int = 800,
    ) -> None:
        from mmcourse.audio import dtmf_batch
        from mmcourse.text import tokenize

        check_choice(split, "split", ("train", "val", "test"))
        seed = check_int(seed, "seed")
        repeats = check_int(repeats, "repeats", 1)
        self.split, self.seed = split, seed
        self.corruption = corruption if corruption is not None else Corruption()
        c = self.corruption
        index = digits_splits(split_seed, return_indices=True)[
            ("train", "val", "test").index(split)
        ]
        images, labels = load_digits()
        images, labels = images[index].repeat(repeats, 1, 1, 1), labels[index].repeat(repeats)
        n = labels.shape[0]
        # Which image each sample shows: sample i and i + len(index) share one when repeats > 1.
        self.image_ids = torch.arange(len(index)).repeat(repeats)
        g = torch.Generator().manual_seed(seed * 1_000_003 + ("train", "val", "test").index(split))

        # Image: Gaussian pixel noise, then a square of zeros at a random place.
        if c.image_noise > 0:
            images = (images + c.image_noise * torch.randn(images.shape, generator=g)).clamp(0, 1)
        if c.image_occlusion > 0:
            side = c.image_occlusion
            top = torch.randint(0, 9 - side, (n,), generator=g)
            left = torch.randint(0, 9 - side, (n,), generator=g)
            rows = torch.arange(8)[None, :, None]
            cols = torch.arange(8)[None, None, :]
            covered = (
                (rows >= top[:, None, None])
                & (rows < top[:, None, None] + side)
                & (cols >= left[:, None, None])
                & (cols < left[:, None, None] + side)
            )
            images = images.masked_fill(covered[:, None], 0.0)

        # Audio: a random tone of the digit, with white noise at the chosen SNR.
        audio = dtmf_batch(labels, sample_rate, num_samples, snr_db=c.audio_snr_db, generator=g)

        # Text: a random phrase, then words dropped and replaced at random.
        self.vocabulary = phrase_vocabulary()
        words = self.vocabulary.itos[2:]
        phrases = [tokenize(p) for p in digit_phrases(labels, g)]
        n_words = sum(len(p) for p in phrases)
        draws = torch.rand(n_words, 2, generator=g).tolist()
        replacements = torch.randint(len(words), (n_words,), generator=g).tolist()
        tokens, k = [], 0
        for phrase in phrases:
            kept = []
            for word in phrase:
                (drop, replace), new = draws[k], words[replacements[k]]
                k += 1
                if drop >= c.text_drop:
                    kept.append(new if replace < c.text_replace else word)
            tokens.append(self.vocabulary.encode(kept or [self.vocabulary.UNK]))

        # Missing modalities: zero the input, mark the mask.
        mask = (torch.rand(n, 3, generator=g) >= torch.tensor(c.missing)).float()
        images = images * mask[:, 0, None, None, None]
        tokens = [
            t if mask[k, 1] else torch.tensor([self.vocabulary.pad_id])
            for k, t in enumerate(tokens)
        ]
        audio = audio * mask[:, 2, None]

        self.images, self.tokens, self.audio, self.mask, self.labels = (
            images,
            tokens,
            audio,
            mask,
            labels,
        )

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, i: int) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """Sample ``i``: ``({"image": (1, 8, 8), "text": (T_i,), "audio": (L,)}, mask, label)``."""
        inputs = {"image": self.images[i], "text": self.tokens[i], "audio": self.audio[i]}
        return inputs, self.mask[i], self.labels[i]

    @staticmethod
    def collate(samples: Sequence[tuple[dict[str, Tensor], Tensor, Tensor]]) -> Batch:
        """Samples -> one batch ``(inputs, mask, labels)``, texts padded by ``pad_sequences``."""
        from mmcourse.text import pad_sequences

        inputs, mask, labels = zip(*samples, strict=True)
        batch = {
            "image": torch.stack([x["image"] for x in inputs]),
            "text": pad_sequences([x["text"] for x in inputs]),  # (tokens, lengths)
            "audio": torch.stack([x["audio"] for x in inputs]),
        }
        return batch, torch.stack(mask), torch.stack(labels)

    def tensors(self) -> Batch:
        """The whole split as one batch ``(inputs, mask, labels)`` (see the class docstring)."""
        return self.collate([self[i] for i in range(len(self))])


def take(batch: Batch, keep: Tensor) -> Batch:
    """The samples ``keep`` (a boolean mask or indices) of a batch ``(inputs, mask, labels)``.

    Every tensor of ``inputs`` is indexed the same way, including both parts of the text's
    ``(tokens, lengths)``.
    """
    inputs, mask, labels = batch
    check_tensor(keep, "keep")
    inputs = {
        name: tuple(t[keep] for t in x) if isinstance(x, tuple) else x[keep]
        for name, x in inputs.items()
    }
    return inputs, mask[keep], labels[keep]


# ---------------------------------------------------------------------------------------------
# Numbers of several handwritten digits (chapter 9)


def digit_strings(
    n: int, length: int = 3, split: str = "train", seed: int = 0, split_seed: int = 0
) -> tuple[Tensor, Tensor]:
    """``n`` numbers of ``length`` handwritten digits written side by side, and their digits.

    Returns ``(images, digits)``: ``images`` ``(n, 1, 8, 8 * length)`` float32 in ``[0, 1]``,
    whose columns ``8k .. 8k + 7`` hold the ``k``-th digit, and ``digits`` ``(n, length)``
    int64, the labels from left to right. Every digit is a real 8×8 image drawn uniformly at
    random (with replacement) from the ``split`` (``"train"``, ``"val"`` or ``"test"``) of
    ``digits_splits(split_seed)``, independently of the others, so numbers of different splits
    never share an image. An answer has ``length`` parts: a model that reads each digit right
    with probability ``p``, independently, reads the whole number right with probability
    ``p ** length``. Deterministic given ``seed`` and ``split``.
    """
    n = check_int(n, "n", 1)
    length = check_int(length, "length", 1)
    check_choice(split, "split", ("train", "val", "test"))
    seed = check_int(seed, "seed")
    which = ("train", "val", "test").index(split)
    pool = digits_splits(check_int(split_seed, "split_seed"), return_indices=True)[which]
    generator = torch.Generator().manual_seed(seed * 1_000_003 + which)
    picks = pool[torch.randint(len(pool), (n, length), generator=generator)]  # (n, length)
    images, labels = _digits()
    strip = images[picks].permute(0, 2, 3, 1, 4)  # (n, 1, 8, length, 8), a copy (indexing)
    return strip.reshape(n, 1, 8, 8 * length), labels[picks]
