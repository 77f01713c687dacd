"""Encoders: one network per kind of input, each from its input to one feature vector per sample.

Every encoder keeps the same contract:

* it is built with its output size as the keyword ``out_dim`` (the positional arguments, if any,
  describe the input: a vocabulary size, a number of input features);
* ``encoder.out_dim`` is that size;
* ``encoder(*inputs)`` returns features of shape ``(N, out_dim)``, one row per sample.

========================  ==========================================  ==========================
encoder                   input                                       built on
========================  ==========================================  ==========================
``ImageEncoder``          images ``(N, 1, 8, 8)``                     convolution, pooling (ch. 3)
``SequenceEncoder``       sequences ``(N, T, input_size)``            ``mmcourse.rnn`` (ch. 4, 5)
``TextEncoder``           token ids ``(N, T)`` and lengths ``(N,)``   embeddings, an LSTM (ch. 6)
``BagOfEmbeddings``       token ids ``(N, T)`` and lengths ``(N,)``   embeddings, a mean (ch. 6)
``AudioEncoder``          waveforms ``(N, L)``                        ``mmcourse.audio`` (ch. 7)
``Precomputed``           features ``(N, out_dim)``                   nothing (ch. 8)
========================  ==========================================  ==========================

The text encoders read the padded batches of ``mmcourse.text`` (``Vocabulary.encode_batch``,
``pad_sequences``).

``Classifier(encoder, num_classes)`` puts a linear head on any of them, the single-modality model
of every chapter; ``mmcourse.fusion.MultimodalClassifier`` puts several side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from mmcourse.audio import amplitude_to_db, mel_filterbank, spectrogram
from mmcourse.validate import (
    check_choice,
    check_int,
    check_number,
    check_shape,
    check_tensor,
    describe,
)

__all__ = [
    "AudioEncoder",
    "BagOfEmbeddings",
    "Classifier",
    "ImageEncoder",
    "Precomputed",
    "SequenceEncoder",
    "TextEncoder",
]


class Classifier(nn.Module):
    """An encoder and a linear head: ``logits = W encoder(*inputs) + b``, ``(N, num_classes)``.

    ``encoder`` is any module with an int attribute ``out_dim`` (every encoder of this module);
    ``forward(*inputs)`` passes all its inputs to it (``tokens, lengths`` for text). Attributes:
    ``encoder`` and ``head`` (the ``nn.Linear(encoder.out_dim, num_classes)``).
    """

    def __init__(self, encoder: nn.Module, num_classes: int = 10) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        out_dim = check_int(getattr(encoder, "out_dim", None), "encoder.out_dim", 1)
        self.encoder = encoder
        self.head = nn.Linear(out_dim, check_int(num_classes, "num_classes", 1))

    def forward(self, *inputs: Tensor) -> Tensor:
        """The encoder's inputs -> class logits ``(N, num_classes)``."""
        return self.head(self.encoder(*inputs))


# ---------------------------------------------------------------------------------------------
# Images (chapter 3)


class ImageEncoder(nn.Module):
    """A small CNN: ``(N, 1, 8, 8)`` images -> ``(N, out_dim)`` features.

    Convolutional blocks ``Conv2d(3×3, padding 1) -> BatchNorm2d -> ReLU -> 2×2 pooling``, one per
    entry of ``channels`` (its output channels), then a linear projection with a ReLU to
    ``out_dim``. With the defaults the 8×8 digit becomes 32 maps of 4×4, then 64 maps of 2×2.

    ``pooling``: ``"max"``, ``"avg"`` or ``"none"`` (the blocks keep the full 8×8 resolution;
    each pooled block halves it, so at most three fit). ``global_pool``: average each final
    feature map over all its positions instead of flattening them, which makes the features
    insensitive to where in the image a pattern appeared. ``dropout``: applied to the flattened
    features before the projection (0 disables it).

    Attributes: ``out_dim``; ``blocks`` (an ``nn.Sequential`` of the conv blocks, so
    ``encoder.blocks[0]`` computes the first layer's feature maps); ``project``.
    """

    input_shape = (1, 8, 8)

    def __init__(
        self,
        *,
        out_dim: int = 64,
        channels: Sequence[int] = (32, 64),
        pooling: str = "max",
        global_pool: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.out_dim = check_int(out_dim, "out_dim", 1)
        if isinstance(channels, str) or not isinstance(channels, Sequence):
            raise TypeError(f"channels must be a list of ints, got {describe(channels)}")
        if not channels:
            raise ValueError(f"channels must hold at least one int, got {describe(channels)}")
        channels = [check_int(c, f"channels[{k}]", 1) for k, c in enumerate(channels)]
        check_choice(pooling, "pooling", ("max", "avg", "none"))
        if pooling != "none" and len(channels) > 3:
            raise ValueError(
                f"channels must have at most 3 entries with pooling (each pooled block halves "
                f"the 8×8 image), got {len(channels)}: {channels}"
            )
        dropout = check_number(dropout, "dropout", 0.0)
        if dropout >= 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout}")
        blocks: list[nn.Module] = []
        side, previous = self.input_shape[1], self.input_shape[0]
        for width in channels:
            layers: list[nn.Module] = [
                nn.Conv2d(previous, width, kernel_size=3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            if pooling != "none":
                layers.append(nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2))
                side //= 2
            blocks.append(nn.Sequential(*layers))
            previous = width
        self.blocks = nn.Sequential(*blocks)
        flat = previous if global_pool else previous * side * side
        self.project = nn.Sequential(
            nn.AdaptiveAvgPool2d(1) if global_pool else nn.Identity(),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(flat, out_dim),
            nn.ReLU(),
        )

    def forward(self, images: Tensor) -> Tensor:
        """``(N, 1, 8, 8)`` images -> ``(N, out_dim)`` features."""
        check_tensor(images, "images", floating=True)
        if images.dim() != 4 or tuple(images.shape[1:]) != self.input_shape:
            hint = " (add the batch dimension: images[None])" if images.dim() == 3 else ""
            raise ValueError(
                f"images must have shape (N, 1, 8, 8), got {tuple(images.shape)}{hint}"
            )
        return self.project(self.blocks(images))


# ---------------------------------------------------------------------------------------------
# Sequences of feature vectors (chapters 4 and 5)


class SequenceEncoder(nn.Module):
    """A recurrent layer read at the last step: ``(N, T, input_size)`` -> ``(N, out_dim)``.

    ``layer`` is the class of the layer, built as ``layer(input_size, out_dim, num_layers,
    batch_first=True)``: ``mmcourse.rnn.RNN``, ``LSTM`` or ``GRU``, or their ``torch.nn``
    counterparts (default ``nn.LSTM``, PyTorch's fast kernel). The features are the last layer's
    hidden state after the last step, ``output[:, -1]``, so every sequence of the batch must
    have ``T`` real steps (padded text goes through ``TextEncoder``, which packs it).

    Attribute ``recurrent``: the layer, e.g. to initialize its weights.
    """

    def __init__(
        self,
        input_size: int,
        *,
        out_dim: int = 64,
        layer: type[nn.Module] = nn.LSTM,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        self.input_size = check_int(input_size, "input_size", 1)
        self.out_dim = check_int(out_dim, "out_dim", 1)
        if not (isinstance(layer, type) and issubclass(layer, nn.Module)):
            raise TypeError(f"layer must be a recurrent nn.Module class, got {layer!r}")
        num_layers = check_int(num_layers, "num_layers", 1)
        self.recurrent = layer(input_size, out_dim, num_layers, batch_first=True)

    def forward(self, sequences: Tensor) -> Tensor:
        """``(N, T, input_size)`` -> ``(N, out_dim)``: the output at the last step."""
        check_tensor(sequences, "sequences", 3, floating=True)
        check_shape(sequences, "sequences", (None, None, self.input_size))
        output, _ = self.recurrent(sequences)  # (N, T, out_dim)
        return output[:, -1]


# ---------------------------------------------------------------------------------------------
# Text (chapter 6)


def _check_tokens(tokens: Tensor, lengths: Tensor, vocab_size: int) -> None:
    """Validate a padded batch: ``tokens (N, T)`` ids in ``0..vocab_size-1``, ``lengths (N,)``."""
    check_tensor(tokens, "tokens", 2, floating=False)
    check_tensor(lengths, "lengths", 1, floating=False)
    check_shape(lengths, "lengths", (tokens.shape[0],))
    if tokens.shape[0] == 0:
        raise ValueError(f"tokens must hold at least one sequence, got shape {tuple(tokens.shape)}")
    if int(lengths.min()) < 1 or int(lengths.max()) > tokens.shape[1]:
        raise ValueError(
            f"lengths must be from 1 to the padded length T = {tokens.shape[1]}, got lengths "
            f"from {int(lengths.min())} to {int(lengths.max())}"
        )
    if int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size:
        raise ValueError(
            f"tokens must be ids from 0 to {vocab_size - 1} (vocab_size={vocab_size}), got ids "
            f"from {int(tokens.min())} to {int(tokens.max())}"
        )


class TextEncoder(nn.Module):
    """Token ids to one feature vector per text, reading in order: an embedding, then an LSTM.

    ``forward(tokens, lengths)``: a padded batch ``tokens`` ``(N, T)`` (int64, padding id
    ``padding_idx``, as ``mmcourse.text.pad_sequences`` makes it) and the true ``lengths``
    ``(N,)`` -> ``(N, out_dim)``, the last layer's hidden state after each text's last real
    token. The texts are packed (``pack_padded_sequence``), so the LSTM never reads the padding
    and the result does not depend on how much padding there is. With ``bidirectional`` each
    direction has ``out_dim // 2`` units (``out_dim`` must be even) and their final states are
    concatenated.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        out_dim: int = 64,
        embedding_dim: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", 1)
        self.out_dim = check_int(out_dim, "out_dim", 2 if bidirectional else 1)
        if bidirectional and out_dim % 2:
            raise ValueError(f"out_dim must be even with bidirectional=True, got {out_dim}")
        self.embedding = nn.Embedding(
            vocab_size, check_int(embedding_dim, "embedding_dim", 1), padding_idx=padding_idx
        )
        self.lstm = nn.LSTM(
            embedding_dim,
            out_dim // 2 if bidirectional else out_dim,
            num_layers=check_int(num_layers, "num_layers", 1),
            batch_first=True,
            bidirectional=bidirectional,
        )

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """``(N, T)`` ids and ``(N,)`` lengths -> ``(N, out_dim)`` features."""
        _check_tokens(tokens, lengths, self.vocab_size)
        embedded = self.embedding(tokens)  # (N, T, E)
        packed = pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.lstm(packed)  # h_n: (num_layers * directions, N, H), input order
        if self.lstm.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=1)
        return h_n[-1]


class BagOfEmbeddings(nn.Module):
    """Token ids to one feature vector per text, blind to word order.

    ``forward(tokens, lengths)``: ``(N, T)`` ids and ``(N,)`` lengths -> ``(N, out_dim)``,
    ``relu(W mean_t E[tokens[n, t]] + b)`` with the mean over the real tokens ``t < lengths[n]``.
    Any reordering of a text's tokens gives the same output.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        out_dim: int = 64,
        embedding_dim: int = 32,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", 1)
        self.out_dim = check_int(out_dim, "out_dim", 1)
        self.embedding = nn.Embedding(
            vocab_size, check_int(embedding_dim, "embedding_dim", 1), padding_idx=padding_idx
        )
        self.hidden = nn.Linear(embedding_dim, out_dim)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """``(N, T)`` ids and ``(N,)`` lengths -> ``(N, out_dim)`` features."""
        _check_tokens(tokens, lengths, self.vocab_size)
        mask = (
            torch.arange(tokens.shape[1], device=tokens.device)[None, :]
            < lengths.to(tokens.device)[:, None]
        )  # (N, T): True on real tokens
        embedded = self.embedding(tokens) * mask[..., None]
        mean = embedded.sum(dim=1) / mask.sum(dim=1, keepdim=True)
        return torch.relu(self.hidden(mean))


# ---------------------------------------------------------------------------------------------
# Audio (chapter 7)


class AudioEncoder(nn.Module):
    """Waveforms ``(N, L)`` -> ``(N, out_dim)`` features, through a log-mel spectrogram.

    ``encoder(waveform) == encoder.body(encoder.features(waveform))``:

    1. ``features``: the mel spectrogram (Hann window ``n_fft``, hop ``hop_length``, ``n_mels``
       bands, from ``mmcourse.audio``) in decibels (``amplitude_to_db``), standardized per clip
       to mean 0 and standard deviation 1 (so the tone's loudness does not matter):
       ``(N, n_mels, T)``. It has no parameters, so a training loop may compute it once and
       train ``body`` on the result;
    2. ``body``: two 1-D convolutions over time with the mel bands as channels (kernel 3, ReLU,
       ``channels`` output channels), each looking at every band over three neighboring frames;
       the maximum over time (the tone may start anywhere and last any time); a linear layer and
       a ReLU: ``(N, out_dim)``.
    """

    def __init__(
        self,
        *,
        out_dim: int = 64,
        sample_rate: int = 8000,
        n_fft: int = 256,
        hop_length: int = 64,
        n_mels: int = 40,
        channels: int = 32,
    ) -> None:
        super().__init__()
        self.out_dim = check_int(out_dim, "out_dim", 1)
        check_number(sample_rate, "sample_rate", positive=True)
        self.sample_rate = sample_rate
        self.n_fft = check_int(n_fft, "n_fft", 2)
        self.hop_length = check_int(hop_length, "hop_length", 1)
        self.n_mels = check_int(n_mels, "n_mels", 1)
        channels = check_int(channels, "channels", 1)
        filterbank = mel_filterbank(
            n_fft // 2 + 1, 0.0, float(sample_rate // 2), n_mels, sample_rate
        )
        self.register_buffer("filterbank", filterbank, persistent=False)
        self.body = nn.Sequential(
            nn.Conv1d(n_mels, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.AdaptiveMaxPool1d(1),  # the maximum over time: (N, channels, 1)
            nn.Flatten(),
            nn.Linear(channels, out_dim),
            nn.ReLU(),
        )

    def features(self, waveform: Tensor) -> Tensor:
        """The standardized log-mel spectrogram ``(N, n_mels, T)`` that ``body`` reads."""
        check_tensor(waveform, "waveform", 2, floating=True)
        power = spectrogram(waveform, self.n_fft, self.hop_length)  # (N, n_fft//2 + 1, T)
        mel = (power.transpose(-1, -2) @ self.filterbank.to(power.dtype)).transpose(-1, -2)
        db = amplitude_to_db(mel)
        mean = db.mean(dim=(1, 2), keepdim=True)
        std = db.std(dim=(1, 2), keepdim=True)
        return (db - mean) / (std + 1e-5)

    def forward(self, waveform: Tensor) -> Tensor:
        """``(N, L)`` waveforms -> ``(N, out_dim)`` features."""
        return self.body(self.features(waveform))


# ---------------------------------------------------------------------------------------------
# Features computed beforehand (chapter 8)


class Precomputed(nn.Module):
    """Features ``(N, out_dim)`` -> the same features: an encoder that already ran.

    It stands in for a frozen encoder whose features were computed once and cached, and declares
    ``out_dim`` so that a ``Classifier`` or a ``MultimodalClassifier`` can be trained on them.
    """

    def __init__(self, *, out_dim: int) -> None:
        super().__init__()
        self.out_dim = check_int(out_dim, "out_dim", 1)

    def forward(self, features: Tensor) -> Tensor:
        """The features themselves, checked to be ``(N, out_dim)``."""
        check_tensor(features, "features", 2)
        return check_shape(features, "features", (None, self.out_dim))
