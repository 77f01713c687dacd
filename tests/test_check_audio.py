"""Audio checkers: what tests/test_checkers.py does not cover (the adapters, the references)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmcourse import check
from mmcourse.audio import mel_filterbank
from mmcourse.check import CheckFailed
from mmcourse.check.audio import _bank, _decode, _tones


def test_the_decoder_reference_finds_every_digit():
    assert all(_decode(waveform, rate) == digit for waveform, rate, digit in _tones())


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (check.hz_to_mel, lambda f: 1127 * math.log(1 + f / 700)),  # the same curve
        (check.mel_filterbank, mel_filterbank),  # float32
        (check.decode_dtmf, lambda w, rate: np.int64(_decode(w, rate))),
    ],
)
def test_right_answers_pass(checker, answer):
    checker(answer)


def _bank_edges(n_freqs, f_min, f_max, n_mels, rate, fewer):
    return _bank(n_freqs, f_min, f_max, n_mels - fewer, rate)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (check.mel_filterbank, lambda *c: _bank_edges(*c, 1), r"\(129, 9\), expected .*Off by"),
        (check.mel_filterbank, lambda *c: _bank_edges(*c, 2), "10 triangles need 10 \\+ 2 = 12"),
        (check.decode_dtmf, lambda w, rate: (697.0, 1209.0), "not the two frequencies"),
        (check.decode_dtmf, lambda w, rate: str(_decode(w, rate)), r"the string '\d'; return"),
    ],
)
def test_typical_mistakes_get_their_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checker(wrong)
