"""Checkers for the audio exercises (exercises/07_audio.md)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from mmcourse.audio import KEYPAD, dtmf_batch, dtmf_frequencies
from mmcourse.audio import alias_frequency as _true_alias
from mmcourse.audio import hz_to_mel as _true_mel
from mmcourse.audio import mel_filterbank as _true_filterbank
from mmcourse.audio import mel_to_hz as _mel_to_hz
from mmcourse.check._core import (
    CheckFailed,
    as_int,
    as_tensor,
    call,
    checker,
    expect_close,
    expect_shape,
    passed,
)


def _as_float(value: Any, case: str, expected: float) -> float:
    """``value`` as a float (Python, NumPy, or a 1-element tensor), else feedback."""
    if isinstance(value, bool):
        raise CheckFailed(
            f"{case}: you returned the bool {value}; expected the number {expected:g}"
        )
    if isinstance(value, Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, int | float) or type(value).__module__ == "numpy":
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise CheckFailed(
        f"{case}: you returned {value!r:.60} (a {type(value).__name__}); "
        f"expected a number, {expected:g}"
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def _hint(mistakes: list[tuple[Callable, str]], answers: list[tuple[tuple, float]]) -> str:
    """The hint of the one typical mistake that explains every answer, if there is one."""
    for formula, hint in mistakes:
        try:
            if all(_close(formula(*case), got) for case, got in answers):
                return hint
        except (ArithmeticError, ValueError):
            continue
    return ""


# ---------------------------------------------------------------------------------------------
# Task 1: alias_frequency

_ALIAS_CASES = [  # (frequency, sample_rate): below, between f_s/2 and f_s, and far above
    (1000.0, 8000.0),
    (5000.0, 8000.0),
    (7000.0, 8000.0),
    (9000.0, 8000.0),
    (12500.0, 8000.0),
    (4000.0, 8000.0),
    (16000.0, 8000.0),
    (30000.0, 44100.0),
    (50000.0, 44100.0),
    (21000.0, 16000.0),
    (200.0, 250.0),
    (260.5, 250.0),
]


def _alias_cases() -> list[tuple[float, float]]:
    rng = random.Random(7)
    cases = list(_ALIAS_CASES)
    while len(cases) < 30:
        rate = rng.choice([8000.0, 16000.0, 22050.0, 44100.0])
        cases.append((round(rng.uniform(0, 4 * rate), 1), rate))
    return cases


_ALIAS_MISTAKES = [
    (
        lambda f, fs: f % fs,
        "You wrapped the frequency into [0, f_s) but did not fold it: a tone between f_s/2 and "
        "f_s shows up mirrored, at f_s minus it (sampling cannot tell f from -f).",
    ),
    (
        lambda f, fs: f,
        "Above the Nyquist frequency f_s/2 a sampled tone cannot appear where it is: it shows up "
        "folded into [0, f_s/2].",
    ),
    (
        lambda f, fs: abs(f - fs),
        "Subtract the *nearest* multiple of the sample rate, not the sample rate once: "
        "|f - f_s * round(f / f_s)|.",
    ),
    (
        lambda f, fs: f % (fs / 2),
        "Folding mirrors the spectrum at f_s/2; it does not wrap around there. Wrap at f_s, then "
        "mirror what lies above f_s/2.",
    ),
    (
        lambda f, fs: fs - f % fs,
        "Only frequencies above f_s/2 (after wrapping into [0, f_s)) fold back; those below stay.",
    ),
]


@checker
def alias_frequency(fn: Any) -> None:
    """Check ``fn(frequency, sample_rate) -> float``: where a sampled tone appears."""
    cases = _alias_cases()
    answers = []
    for f, fs in cases:
        case = f"for a {f:g} Hz tone sampled at {fs:g} Hz"
        expected = _true_alias(f, fs)
        answers.append(
            ((f, fs), _as_float(call(fn, "alias_frequency", case, f, fs), case, expected))
        )
    for (f, fs), got in answers:
        expected = _true_alias(f, fs)
        if not _close(got, expected):
            hint = _hint(_ALIAS_MISTAKES, answers)
            raise CheckFailed(
                f"for a {f:g} Hz tone sampled at {fs:g} Hz you returned {got:g} Hz, "
                f"expected {expected:g} Hz" + (f". {hint}" if hint else "")
            )
    passed("alias_frequency", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 2: hz_to_mel

# 0 Hz last, so that a formula without the "1 +" is caught (with its hint) before it fails on 0.
_MEL_CASES = [1000.0, 100.0, 440.0, 700.0, 2000.0, 4000.0, 8000.0, 22050.0, 123.4, 0.0]

_MEL_MISTAKES = [
    (
        lambda f: 2595 * math.log(1 + f / 700),
        "Use the base-10 logarithm (math.log10): 2595 goes with log10; with the natural "
        "logarithm the constant would be 1127.",
    ),
    (
        lambda f: 1127 * math.log10(1 + f / 700),
        "1127 goes with the natural logarithm; with log10 the constant is 2595.",
    ),
    (
        lambda f: 2595 * math.log10(f / 700),
        "The formula is 2595 log10(1 + f/700): without the 1, low frequencies get negative mel "
        "(and 0 Hz minus infinity).",
    ),
    (
        lambda f: 2595 * math.log10(1 + f / 1000),
        "Divide the frequency by 700 Hz, not 1000: mel = 2595 log10(1 + f/700).",
    ),
    (
        lambda f: _mel_to_hz(f),
        "That is the inverse, mel to hertz. Hertz to mel is 2595 log10(1 + f/700).",
    ),
]


@checker
def hz_to_mel(fn: Any) -> None:
    """Check ``fn(frequency) -> float``: hertz to mel on the HTK scale."""
    answers = []
    for f in _MEL_CASES:
        case = f"for {f:g} Hz"
        expected = _true_mel(f)
        got = _as_float(call(fn, "hz_to_mel", case, f), case, expected)
        answers.append(((f,), got))
        if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-4):
            hint = _hint(_MEL_MISTAKES, answers)
            raise CheckFailed(
                f"for {f:g} Hz you returned {got:.4f} mel, expected {expected:.4f}"
                + (f". {hint}" if hint else "")
            )
    passed("hz_to_mel", len(_MEL_CASES))


# ---------------------------------------------------------------------------------------------
# Task 3: mel_filterbank

_BANK_CASES = [  # n_freqs, f_min, f_max, n_mels, sample_rate
    (129, 0.0, 4000.0, 10, 8000),
    (201, 0.0, 8000.0, 40, 16000),
    (257, 300.0, 3000.0, 20, 8000),
    (65, 100.0, 3500.0, 8, 8000),
    (513, 20.0, 11025.0, 64, 22050),
    (17, 0.0, 1000.0, 3, 2000),
]


def _bank_variant(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    hz_edges: bool = False,
    top: float | None = None,
    slaney: bool = False,
) -> Tensor:
    """The filterbank built with one typical mistake (float64)."""
    bins = torch.linspace(0, sample_rate // 2 if top is None else top, n_freqs, dtype=torch.float64)
    if hz_edges:
        edges = torch.linspace(f_min, f_max, n_mels + 2, dtype=torch.float64)
    else:
        mels = torch.linspace(_true_mel(f_min), _true_mel(f_max), n_mels + 2, dtype=torch.float64)
        edges = _mel_to_hz(mels)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (center - lower)
    falling = (upper - bins[:, None]) / (upper - center)
    bank = torch.minimum(rising, falling).clamp(min=0)
    return bank * (2 / (upper - lower)) if slaney else bank


def _bank_hint(result: Tensor, case: tuple) -> str:
    n_freqs, f_min, f_max, n_mels, sample_rate = case

    def same(other: Tensor) -> bool:
        return other.shape == result.shape and torch.allclose(
            result.detach().double().cpu(), other, atol=1e-4, rtol=1e-4
        )

    if same(_bank_variant(*case, hz_edges=True)):
        return (
            "Your edges are evenly spaced in hertz. Space them evenly in mel (from "
            "hz_to_mel(f_min) to hz_to_mel(f_max)), then convert them back to hertz."
        )
    if same(_bank_variant(*case, top=sample_rate)):
        return (
            "The spectrum's bins go from 0 Hz up to the Nyquist frequency sample_rate / 2, "
            "not up to sample_rate."
        )
    if same(_bank_variant(*case, slaney=True)):
        return "Each triangle should peak at 1: no area normalization."
    return ""


@checker
def mel_filterbank(fn: Any) -> None:
    """Check ``fn(n_freqs, f_min, f_max, n_mels, sample_rate) -> (n_freqs, n_mels)``."""
    for case in _BANK_CASES:
        n_freqs, f_min, f_max, n_mels, rate = case
        description = (
            f"for n_freqs={n_freqs}, f_min={f_min:g}, f_max={f_max:g}, n_mels={n_mels}, "
            f"sample_rate={rate}"
        )
        expected = _true_filterbank(n_freqs, f_min, f_max, n_mels, rate, dtype=torch.float64)
        result = as_tensor(call(fn, "mel_filterbank", description, *case), description)
        shape = tuple(result.shape)
        if shape == (n_mels, n_freqs) and n_mels != n_freqs:
            expect_shape(
                result,
                expected.shape,
                description,
                "Return one column per filter: shape (n_freqs, n_mels), so that "
                "spectrum @ filterbank gives the mel bands.",
            )
        if len(shape) == 2 and shape[0] == n_freqs and shape[1] in (n_mels - 2, n_mels - 1):
            expect_shape(
                result,
                expected.shape,
                description,
                f"Off by one in the edges: {n_mels} triangles need {n_mels} + 2 = {n_mels + 2} "
                "edges, since each triangle spans from its left neighbor's center to its right "
                "neighbor's.",
            )
        expect_shape(result, expected.shape, description)
        expect_close(result, expected, description, _bank_hint(result, case))
    passed("mel_filterbank", len(_BANK_CASES))


# ---------------------------------------------------------------------------------------------
# Task 4: decode_dtmf


def _decode_cases() -> list[tuple[Tensor, int, int]]:
    """(waveform, sample_rate, digit): every digit, several rates and lengths, some noise."""
    g = torch.Generator().manual_seed(11)
    cases = []
    for rate, num_samples, snr in [(8000, 800, 20.0), (16000, 1200, 10.0), (11025, 551, 10.0)]:
        digits = torch.randperm(10, generator=g)
        clips = dtmf_batch(digits, rate, num_samples, snr_db=snr, generator=g)
        cases += [(clip, rate, int(d)) for clip, d in zip(clips, digits, strict=True)]
    return cases


def _key_at(row: int, column: int) -> int | None:
    if 0 <= row < len(KEYPAD) and 0 <= column < len(KEYPAD[0]):
        key = KEYPAD[row][column]
        return int(key) if key.isdigit() else None
    return None


def _position(digit: int) -> tuple[int, int]:
    for row, keys in enumerate(KEYPAD):
        if str(digit) in keys:
            return row, keys.index(str(digit))
    raise ValueError(digit)


def _decode_hint(answers: list[tuple[int, int, int, Any]]) -> str:
    """A hint from all (sample_rate, length, expected, got) answers, for common mistakes."""
    wrong = [(rate, n, want, got) for rate, n, want, got in answers if got != want]
    if any(want == 0 and got in (10, 11) for _, _, want, got in wrong):
        return (
            "The bottom row of the keypad is * 0 #: 941 + 1336 Hz is the digit 0 (between * and "
            "#), not 10 or 11."
        )
    swapped = []  # for each wrong answer whose mirror position is a digit: is it that digit?
    for _, _, want, got in wrong:
        row, column = _position(want)
        if _key_at(column, row) is not None:
            swapped.append(got == _key_at(column, row))
    if swapped and all(swapped):
        return (
            "Rows and columns are swapped: the rows are the low frequencies (697, 770, 852, "
            "941 Hz), the columns the high ones (1209, 1336, 1477 Hz)."
        )
    if wrong and all(rate != 8000 or n != 800 for rate, n, _, _ in wrong):
        return (
            "Right on 800-sample clips at 8000 Hz, wrong on others: use the arguments. Bin k of "
            "an rfft of N samples is the frequency k * sample_rate / N."
        )
    return ""


@checker
def decode_dtmf(fn: Any) -> None:
    """Check ``fn(waveform, sample_rate) -> int``: the digit a keypad tone encodes."""
    cases = _decode_cases()
    answers = []
    for waveform, rate, digit in cases:
        description = (
            f"for the tone of {digit} ({' + '.join(f'{f:g}' for f in dtmf_frequencies(digit))} "
            f"Hz), {len(waveform)} samples at {rate} Hz"
        )
        got = call(fn, "decode_dtmf", description, waveform.clone(), rate)
        if isinstance(got, tuple | list) and len(got) == 2:
            raise CheckFailed(
                f"{description} you returned {got!r:.60}; return the digit ({digit}) as an int, "
                "not the two frequencies or the keypad position"
            )
        if isinstance(got, str):
            raise CheckFailed(
                f"{description} you returned the string {got!r}; return the digit as an int, "
                f"e.g. int(key), here {digit}"
            )
        answers.append((rate, len(waveform), digit, as_int(got, description, digit)))
    for rate, n, digit, got in answers:
        if got != digit:
            hint = _decode_hint(answers)
            frequencies = " + ".join(f"{f:g}" for f in dtmf_frequencies(digit))
            raise CheckFailed(
                f"for the tone of {digit} ({frequencies} Hz), {n} samples at {rate} Hz you "
                f"returned {got}, expected {digit}" + (f". {hint}" if hint else "")
            )
    passed("decode_dtmf", len(cases))
