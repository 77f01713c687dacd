"""The course's data, made offline and deterministically.

``load_digits`` returns the 1,797 real 8×8 handwritten digits that scikit-learn ships inside its
package (no download), as tensors ready for a convolutional network; ``digits_splits`` splits
them. ``MultimodalDigits`` pairs every image with the keypad tone of its digit and a phrase naming
it, each degraded as a ``Corruption`` says: the course's running multimodal example.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.utils.data import Dataset

if TYPE_CHECKING:
    from mmcourse.text import Vocabulary


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
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 to leave training data, "
            f"got {val_fraction} + {test_fraction}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
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
# Multimodal digits: an image, a tone and a phrase for every digit


MODALITIES = ("image", "text", "audio")


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
    the fusion chapter's small encoders, each modality alone reaches roughly 55-75% test
    accuracy (the chapter measures it), and fusing the three well over 90%.
    """

    image_noise: float = 0.3
    image_occlusion: int = 3
    audio_snr_db: float | None = -14.0
    text_drop: float = 0.1
    text_replace: float = 0.1
    missing: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.image_noise < 0:
            raise ValueError(f"image_noise must be >= 0, got {self.image_noise}")
        if not 0 <= self.image_occlusion <= 8:
            raise ValueError(
                f"image_occlusion must be a side from 0 to 8, got {self.image_occlusion}"
            )
        for name in ("text_drop", "text_replace"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(
                    f"{name} must be a probability in [0, 1), got {getattr(self, name)}"
                )
        if len(self.missing) != 3 or not all(0.0 <= p <= 1.0 for p in self.missing):
            raise ValueError(
                f"missing must give 3 probabilities (image, text, audio), got {self.missing!r}"
            )


CLEAN = Corruption(
    image_noise=0.0, image_occlusion=0, audio_snr_db=None, text_drop=0.0, text_replace=0.0
)


def phrase_vocabulary() -> Vocabulary:
    """The vocabulary of every phrase ``digit_phrase`` can write, the same on every machine."""
    from mmcourse.text import Vocabulary, phrase_distribution

    return Vocabulary.build(p for d in range(10) for p in phrase_distribution(d))


class MultimodalDigits(Dataset):
    """Every sample: a real handwritten digit, its keypad tone and a phrase naming it.

    ``split`` is ``"train"``, ``"val"`` or ``"test"`` of ``digits_splits(split_seed)``, so the
    three never share an image. ``repeats`` pairs each image with that many different tones and
    phrases (training data can use several). Everything random (tones, phrases, corruption, which
    modalities are missing) is drawn from a generator seeded by ``seed`` and the split, so the
    same arguments give the same tensors on every machine.

    ``dataset[i]`` is ``(image (1, 8, 8), tokens (T_i,), audio (L,), mask (3,), label)``, with the
    modalities in the order of ``MODALITIES`` (image, text, audio); ``collate`` pads a list of
    them into a batch ``(images, tokens, lengths, audio, mask, labels)``, and ``tensors()`` returns
    the whole split in that form, ready for ``mmcourse.train.fit`` and a ``MultimodalClassifier``
    with ``arity=[1, 2, 1]``.
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
        from mmcourse.text import digit_phrases, tokenize

        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be a positive int, got {repeats!r}")
        self.split, self.seed = split, seed
        self.corruption = corruption if corruption is not None else Corruption()
        c = self.corruption
        index = digits_splits(split_seed, return_indices=True)[
            ("train", "val", "test").index(split)
        ]
        images, labels = load_digits()
        images, labels = images[index].repeat(repeats, 1, 1, 1), labels[index].repeat(repeats)
        n = labels.shape[0]
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

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        return self.images[i], self.tokens[i], self.audio[i], self.mask[i], self.labels[i]

    @staticmethod
    def collate(batch: Sequence[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
        """Stack samples into ``(images, tokens, lengths, audio, mask, labels)``, padding text."""
        from mmcourse.text import pad_sequences

        images, tokens, audio, mask, labels = zip(*batch, strict=True)
        padded, lengths = pad_sequences(list(tokens))
        return (
            torch.stack(images),
            padded,
            lengths,
            torch.stack(audio),
            torch.stack(mask),
            torch.stack(labels),
        )

    def tensors(self) -> tuple[Tensor, ...]:
        """The whole split as ``(images, tokens, lengths, audio, mask, labels)``."""
        return self.collate([self[i] for i in range(len(self))])
