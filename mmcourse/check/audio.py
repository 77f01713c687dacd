"""Checkers for the audio exercises (exercises/07_audio.md), on ``mmcourse.audio``."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor

from mmcourse import audio
from mmcourse.audio import COLUMN_HZ, KEYPAD, ROW_HZ
from mmcourse.check._core import CheckFailed, Close, Exact, Mistake, case, exercise


# Task 1: alias_frequency
def _alias_cases() -> list:
    """Below f_s/2, between f_s/2 and f_s, far above; then random ones."""
    cases = [(1000.0, 8000.0), (5000.0, 8000.0), (7000.0, 8000.0), (9000.0, 8000.0)]
    cases += [(12500.0, 8000.0), (4000.0, 8000.0), (16000.0, 8000.0), (30000.0, 44100.0)]
    cases += [(50000.0, 44100.0), (21000.0, 16000.0), (200.0, 250.0), (260.5, 250.0)]
    rng = random.Random(7)
    while len(cases) < 30:
        rate = rng.choice([8000.0, 16000.0, 22050.0, 44100.0])
        cases.append((round(rng.uniform(0, 4 * rate), 1), rate))
    return [case(f, fs) for f, fs in cases]


@exercise(
    cases=_alias_cases,
    describe=lambda f, fs: f"for a {f:g} Hz tone sampled at {fs:g} Hz",
    compare=Close(atol=1e-6, rtol=1e-6),
    mistakes=[
        Mistake(
            "You wrapped the frequency into [0, f_s) but did not fold it: a tone between f_s/2 "
            "and f_s shows up mirrored, at f_s minus it (sampling cannot tell f from -f).",
            lambda f, fs: f % fs,
        ),
        Mistake(
            "Above the Nyquist frequency f_s/2 a sampled tone cannot appear where it is: it "
            "shows up folded into [0, f_s/2].",
            lambda f, fs: f,
        ),
        Mistake(
            "Subtract the *nearest* multiple of the sample rate, not the sample rate once: "
            "|f - f_s * round(f / f_s)|.",
            lambda f, fs: abs(f - fs),
        ),
        Mistake(
            "Folding mirrors the spectrum at f_s/2; it does not wrap around there. Wrap at "
            "f_s, then mirror what lies above f_s/2.",
            lambda f, fs: f % (fs / 2),
        ),
        Mistake(
            "Only frequencies above f_s/2 (after wrapping into [0, f_s)) fold back; those "
            "below stay.",
            lambda f, fs: fs - f % fs,
        ),
    ],
)
def alias_frequency(frequency, sample_rate):
    """Check ``fn(frequency, sample_rate) -> float``: where a sampled tone appears."""
    return audio.alias_frequency(frequency, sample_rate)


# Task 2: hz_to_mel

# 0 Hz last, so that a formula without the "1 +" is caught (with its hint) before it fails on 0.
_MEL_HZ = [1000.0, 100.0, 440.0, 700.0, 2000.0, 4000.0, 8000.0, 22050.0, 123.4, 0.0]


@exercise(
    cases=lambda: [case(f) for f in _MEL_HZ],
    describe=lambda f: f"for {f:g} Hz",
    mistakes=[
        Mistake(
            "Use the base-10 logarithm (math.log10): 2595 goes with log10; with the natural "
            "logarithm the constant would be 1127.",
            lambda f: 2595 * math.log(1 + f / 700),
        ),
        Mistake(
            "1127 goes with the natural logarithm; with log10 the constant is 2595.",
            lambda f: 1127 * math.log10(1 + f / 700),
        ),
        Mistake(
            "The formula is 2595 log10(1 + f/700): without the 1, low frequencies get "
            "negative mel (and 0 Hz minus infinity).",
            lambda f: 2595 * math.log10(f / 700),
        ),
        Mistake(
            "Divide the frequency by 700 Hz, not 1000: mel = 2595 log10(1 + f/700).",
            lambda f: 2595 * math.log10(1 + f / 1000),
        ),
        Mistake(
            "That is the inverse, mel to hertz. Hertz to mel is 2595 log10(1 + f/700).",
            audio.mel_to_hz,
        ),
    ],
)
def hz_to_mel(frequency):
    """Check ``fn(frequency) -> float``: hertz to mel on the HTK scale."""
    return audio.hz_to_mel(frequency)


# Task 3: mel_filterbank
def _bank(n_freqs, f_min, f_max, n_mels, rate, hz=False, top=None, area=False, edges=2) -> Tensor:
    """The filterbank built with one typical mistake (float64), from ``n_mels + edges`` edges."""
    bins = torch.linspace(0, rate // 2 if top is None else top, n_freqs, dtype=torch.float64)
    low, high = (f_min, f_max) if hz else (audio.hz_to_mel(f_min), audio.hz_to_mel(f_max))
    points = torch.linspace(low, high, n_mels + edges, dtype=torch.float64)
    points = points if hz else audio.mel_to_hz(points)
    lower, center, upper = points[:-2], points[1:-1], points[2:]
    rising = (bins[:, None] - lower) / (center - lower)
    falling = (upper - bins[:, None]) / (upper - center)
    bank = torch.minimum(rising, falling).clamp(min=0)
    return bank * (2 / (upper - lower)) if area else bank


def _edges_hint(n_freqs, f_min, f_max, n_mels, sample_rate) -> str:
    return (
        f"Off by one in the edges: {n_mels} triangles need {n_mels} + 2 = {n_mels + 2} edges, "
        "since each triangle spans from its left neighbor's center to its right neighbor's."
    )


_BANK_CASES = [  # n_freqs, f_min, f_max, n_mels, sample_rate
    (129, 0.0, 4000.0, 10, 8000),
    (201, 0.0, 8000.0, 40, 16000),
    (257, 300.0, 3000.0, 20, 8000),
    (65, 100.0, 3500.0, 8, 8000),
    (513, 20.0, 11025.0, 64, 22050),
    (17, 0.0, 1000.0, 3, 2000),
]


@exercise(
    cases=lambda: [case(*c) for c in _BANK_CASES],
    mistakes=[
        Mistake(
            "Return one column per filter: shape (n_freqs, n_mels), so that "
            "spectrum @ filterbank gives the mel bands.",
            lambda *c: _bank(*c).T,
        ),
        Mistake(
            "Your edges are evenly spaced in hertz. Space them evenly in mel (from "
            "hz_to_mel(f_min) to hz_to_mel(f_max)), then convert them back to hertz.",
            lambda *c: _bank(*c, hz=True),
        ),
        Mistake(
            "The spectrum's bins go from 0 Hz up to the Nyquist frequency sample_rate / 2, "
            "not up to sample_rate.",
            lambda *c: _bank(*c, top=c[4]),
        ),
        Mistake(
            "Each triangle should peak at 1: no area normalization.",
            lambda *c: _bank(*c, area=True),
        ),
        Mistake(_edges_hint, partial(_bank, edges=1)),  # n_mels + 1 edges: a triangle too few
        Mistake(_edges_hint, partial(_bank, edges=0)),  # n_mels edges: two triangles too few
    ],
)
def mel_filterbank(n_freqs, f_min, f_max, n_mels, sample_rate):
    """Check ``fn(n_freqs, f_min, f_max, n_mels, sample_rate) -> (n_freqs, n_mels)``."""
    import torchaudio.functional  # here, so that ``import mmcourse`` does not import torchaudio

    return torchaudio.functional.melscale_fbanks(
        n_freqs, f_min, f_max, n_mels, sample_rate, norm=None, mel_scale="htk"
    )


# Task 4: decode_dtmf
def _tones() -> list[tuple[Tensor, int, int]]:
    """(waveform, sample_rate, digit): every digit, several rates and lengths, some noise."""
    g = torch.Generator().manual_seed(11)
    tones = []
    for rate, num_samples, snr in [(8000, 800, 20.0), (16000, 1200, 10.0), (11025, 551, 10.0)]:
        digits = torch.randperm(10, generator=g)
        clips = audio.dtmf_batch(digits, rate, num_samples, snr_db=snr, generator=g)
        tones += [(clip, rate, int(d)) for clip, d in zip(clips, digits, strict=True)]
    return tones


def _decoder(key: Callable[[int, int], int], rate: int | None = None) -> Callable:
    """Decode by the strongest row and column frequency (at their nearest bins) into
    ``key(row, column)``; ``rate`` in place of the sample rate."""

    def decode(waveform: Tensor, sample_rate: int) -> int:
        magnitude = torch.fft.rfft(waveform).abs()
        freqs = torch.fft.rfftfreq(len(waveform), d=1 / (rate or sample_rate))
        row, column = (
            int(torch.stack([magnitude[(freqs - f).abs().argmin()] for f in hz]).argmax())
            for hz in (ROW_HZ, COLUMN_HZ)
        )
        return key(row, column)

    return decode


def _key(row: int, column: int) -> int:
    return int(KEYPAD[row][column]) if KEYPAD[row][column].isdigit() else -1


_decode = _decoder(_key)


def _describe_tone(waveform: Tensor, rate: int) -> str:
    digit = _decode(waveform, rate)
    frequencies = " + ".join(f"{f:g}" for f in audio.dtmf_frequencies(digit))
    return f"for the tone of {digit} ({frequencies} Hz), {len(waveform)} samples at {rate} Hz"


class _Digit(Exact):
    """``Exact``, saying what to do with two frequencies or a key's string."""

    def convert(self, value: Any, expected: Any, where: str, what: str = "you returned") -> int:
        if isinstance(value, tuple | list) and len(value) == 2:
            raise CheckFailed(
                f"{where}: {what} {value!r:.60}; return the digit ({expected}) as an int, not "
                "the two frequencies or the keypad position"
            )
        if isinstance(value, str):
            raise CheckFailed(
                f"{where}: {what} the string {value!r}; return the digit as an int, e.g. "
                f"int(key), here {expected}"
            )
        return super().convert(value, expected, where, what)


@exercise(
    cases=lambda: [case(waveform, rate) for waveform, rate, _ in _tones()],
    describe=_describe_tone,
    compare=_Digit(),
    mistakes=[
        Mistake(
            "The bottom row of the keypad is * 0 #: 941 + 1336 Hz is the digit 0 (between * "
            "and #), not 10 or 11.",
            _decoder(lambda row, column: 3 * row + column + 1),
        ),
        Mistake(
            "Rows and columns are swapped: the rows are the low frequencies (697, 770, 852, "
            "941 Hz), the columns the high ones (1209, 1336, 1477 Hz).",
            _decoder(lambda row, column: _key(column, row) if row < 3 else -1),
        ),
        Mistake(
            "Right on 800-sample clips at 8000 Hz, wrong on others: use the arguments. Bin k "
            "of an rfft of N samples is the frequency k * sample_rate / N.",
            _decoder(_key, rate=8000),
        ),
    ],
)
def decode_dtmf(waveform, sample_rate):
    """Check ``fn(waveform, sample_rate) -> int``: the digit a keypad tone encodes."""
    return _decode(waveform, sample_rate)
