"""Audio checkers: right answers pass, typical wrong ones fail with a precise message.

The reference solutions themselves run in the exercise notebook (nbval); the unsolved stubs are
run by tests/test_exercises.py. Here each task gets its typical mistakes.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from mmcourse import check
from mmcourse.audio import COLUMN_HZ, KEYPAD, ROW_HZ
from mmcourse.audio import alias_frequency as library_alias
from mmcourse.audio import hz_to_mel as library_mel
from mmcourse.audio import mel_filterbank as library_filterbank
from mmcourse.check import CheckFailed

# ---------------------------------------------------------------------------------------------
# Task 1: alias_frequency


def right_alias(frequency, sample_rate):
    wrapped = frequency % sample_rate
    return min(wrapped, sample_rate - wrapped)


def no_folding(frequency, sample_rate):
    return frequency % sample_rate


def unchanged(frequency, sample_rate):
    return frequency


def subtracts_once(frequency, sample_rate):
    return abs(frequency - sample_rate)


def wraps_at_nyquist(frequency, sample_rate):
    return frequency % (sample_rate / 2)


def always_folds(frequency, sample_rate):
    return sample_rate - frequency % sample_rate


@pytest.mark.parametrize(
    "answer",
    [
        right_alias,
        library_alias,
        lambda f, fs: np.float64(right_alias(f, fs)),
        lambda f, fs: torch.tensor(right_alias(f, fs)),
        lambda f, fs: abs(f - fs * round(f / fs)),
    ],
)
def test_alias_accepts_right_answers(answer):
    check.alias_frequency(answer)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (no_folding, "did not fold it"),
        (unchanged, "cannot appear where it is"),
        (subtracts_once, r"\*nearest\* multiple"),
        (wraps_at_nyquist, "it does not wrap around there"),
        (always_folds, "Only frequencies above f_s/2"),
        (lambda f, fs: str(right_alias(f, fs)), r"\(a str\); expected a number"),
        (lambda f, fs: None, r"\(a NoneType\); expected a number"),
    ],
)
def test_alias_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.alias_frequency(wrong)
    assert "Hz tone sampled at" in str(failure.value)


def test_alias_message_names_the_case():
    def wrong_on_one_case(f, fs):
        return 1234.0 if (f, fs) == (5000.0, 8000.0) else right_alias(f, fs)

    with pytest.raises(CheckFailed) as failure:
        check.alias_frequency(wrong_on_one_case)
    assert str(failure.value) == (
        "for a 5000 Hz tone sampled at 8000 Hz you returned 1234 Hz, expected 3000 Hz"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: hz_to_mel


def right_mel(f):
    return 2595 * math.log10(1 + f / 700)


@pytest.mark.parametrize(
    "answer",
    [
        right_mel,
        library_mel,
        lambda f: 1127 * math.log(1 + f / 700),  # the same curve with the natural log
        lambda f: torch.tensor(right_mel(f)),
        lambda f: np.float32(right_mel(f)) if f < 1 else np.float64(right_mel(f)),
    ],
)
def test_mel_accepts_right_answers(answer):
    check.hz_to_mel(answer)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda f: 2595 * math.log(1 + f / 700), "base-10 logarithm"),
        (lambda f: 1127 * math.log10(1 + f / 700), "1127 goes with the natural logarithm"),
        (lambda f: 2595 * math.log10(f / 700), "without the 1"),
        (lambda f: 2595 * math.log10(1 + f / 1000), "by 700 Hz, not 1000"),
        (lambda f: 700 * (10 ** (f / 2595) - 1), "That is the inverse"),
        (lambda f: torch.log10(1 + f / 700), "raised TypeError"),
        (lambda f: [right_mel(f)], r"\(a list\); expected a number"),
    ],
)
def test_mel_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.hz_to_mel(wrong)
    assert re.match(r"for \d[\d.]* Hz", str(failure.value)), str(failure.value)


# ---------------------------------------------------------------------------------------------
# Task 3: mel_filterbank


def _bank(n_freqs, f_min, f_max, n_mels, sample_rate, n_edges=None, hz=False, top=None, area=False):
    bins = torch.linspace(0, sample_rate // 2 if top is None else top, n_freqs, dtype=torch.float64)
    n_edges = n_mels + 2 if n_edges is None else n_edges
    if hz:
        edges = torch.linspace(f_min, f_max, n_edges, dtype=torch.float64)
    else:
        mels = torch.linspace(right_mel(f_min), right_mel(f_max), n_edges, dtype=torch.float64)
        edges = 700 * (10 ** (mels / 2595) - 1)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (center - lower)
    falling = (upper - bins[:, None]) / (upper - center)
    bank = torch.minimum(rising, falling).clamp(min=0)
    return bank * 2 / (upper - lower) if area else bank


def right_bank(*args):
    return _bank(*args)


@pytest.mark.parametrize(
    "answer",
    [
        right_bank,
        library_filterbank,
        lambda *args: _bank(*args).float(),
    ],
)
def test_filterbank_accepts_right_answers(answer):
    check.mel_filterbank(answer)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda *a: _bank(*a, n_edges=a[3]), r"shape \(129, 8\), expected \(129, 10\).*Off by one"),
        (lambda *a: _bank(*a, n_edges=a[3] + 1), r"Off by one in the edges: 10 triangles need"),
        (lambda *a: _bank(*a, hz=True), "evenly spaced in hertz"),
        (lambda *a: _bank(*a, top=a[4]), "up to the Nyquist frequency"),
        (lambda *a: _bank(*a, area=True), "peak at 1"),
        (lambda *a: _bank(*a).T, r"shape \(10, 129\).*one column per filter"),
        (lambda *a: _bank(*a).numpy(), "a ndarray; expected a torch.Tensor"),
        (lambda *a: _bank(*a) * float("nan"), "NaN"),
    ],
)
def test_filterbank_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.mel_filterbank(wrong)
    assert "for n_freqs=129, f_min=0, f_max=4000, n_mels=10, sample_rate=8000" in str(failure.value)


# ---------------------------------------------------------------------------------------------
# Task 4: decode_dtmf


def _strongest(waveform, sample_rate, candidates):
    magnitude = torch.fft.rfft(waveform).abs()
    freqs = torch.fft.rfftfreq(len(waveform), d=1 / sample_rate)
    return int(torch.stack([magnitude[(freqs - f).abs().argmin()] for f in candidates]).argmax())


def right_decoder(waveform, sample_rate):
    row = _strongest(waveform, sample_rate, ROW_HZ)
    column = _strongest(waveform, sample_rate, COLUMN_HZ)
    return int(KEYPAD[row][column])


def counts_keys(waveform, sample_rate):
    row = _strongest(waveform, sample_rate, ROW_HZ)
    column = _strongest(waveform, sample_rate, COLUMN_HZ)
    return 3 * row + column + 1  # 1..12 in reading order: "0" becomes 11


def swaps_rows_and_columns(waveform, sample_rate):
    row = _strongest(waveform, sample_rate, ROW_HZ)
    column = _strongest(waveform, sample_rate, COLUMN_HZ)
    key = KEYPAD[column][row] if row < 3 else "#"
    return int(key) if key.isdigit() else -1


def assumes_8000_hz(waveform, sample_rate):
    key = KEYPAD[_strongest(waveform, 8000, ROW_HZ)][_strongest(waveform, 8000, COLUMN_HZ)]
    return int(key) if key.isdigit() else -1


def returns_frequencies(waveform, sample_rate):
    row = _strongest(waveform, sample_rate, ROW_HZ)
    column = _strongest(waveform, sample_rate, COLUMN_HZ)
    return ROW_HZ[row], COLUMN_HZ[column]


def returns_key_string(waveform, sample_rate):
    return str(right_decoder(waveform, sample_rate))


@pytest.mark.parametrize(
    "answer",
    [
        right_decoder,
        lambda w, sr: np.int64(right_decoder(w, sr)),
        lambda w, sr: torch.tensor(right_decoder(w, sr)),
    ],
)
def test_decoder_accepts_right_answers(answer):
    check.decode_dtmf(answer)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (counts_keys, r"returned 11, expected 0. The bottom row of the keypad is \* 0 #"),
        (swaps_rows_and_columns, "Rows and columns are swapped"),
        (assumes_8000_hz, r"Right on 800-sample clips at 8000 Hz, wrong on others"),
        (returns_frequencies, r"return the digit \(\d\) as an int, not the two frequencies"),
        (returns_key_string, r"you returned the string '\d'; return the digit as an int"),
        (lambda w, sr: 3.0, r"\(a float\); expected the int"),
        (lambda w, sr: w.argmax(), "you returned"),
    ],
)
def test_decoder_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.decode_dtmf(wrong)
    assert "for the tone of" in str(failure.value)


def test_decoder_reports_learner_exceptions_with_their_line():
    def crashes(waveform, sample_rate):
        return int(torch.fft.rfft(waveform).argmax())  # argmax of complex numbers

    with pytest.raises(CheckFailed) as failure:
        check.decode_dtmf(crashes)
    message = str(failure.value)
    assert "your decode_dtmf raised RuntimeError" in message
    assert "torch.fft.rfft(waveform).argmax()" in message
    assert failure.value.__cause__ is None


CHECKERS = [check.alias_frequency, check.hz_to_mel, check.mel_filterbank, check.decode_dtmf]


@pytest.mark.parametrize("checker", CHECKERS)
@pytest.mark.parametrize(
    "answer",
    [
        lambda *a: None,
        lambda *a: "x",
        lambda *a: torch.zeros(2, 3, 4),
        lambda *a: [1, 2, 3],
        lambda *a: 1 / 0,
        lambda *a: float("nan"),
        lambda *a: torch.tensor(float("nan")),
    ],
)
def test_checkers_never_crash(checker, answer):
    with pytest.raises(CheckFailed) as failure:
        checker(answer)
    assert "could not check your answer" not in str(failure.value)
