"""Audio checkers: what tests/test_checkers.py does not cover (other right answers, a digit
given as something else than an int)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.check.audio import _decode, _tones


def test_the_decoder_reference_finds_every_digit():
    assert all(_decode(waveform, rate) == digit for waveform, rate, digit in _tones())


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (check.hz_to_mel, lambda f: 1127 * math.log(1 + f / 700)),  # the same curve
        (check.decode_dtmf, lambda w, rate: np.int64(_decode(w, rate))),
    ],
)
def test_right_answers_pass(checker, answer):
    checker(answer)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda w, rate: (697.0, 1209.0), "not the two frequencies"),
        (lambda w, rate: str(_decode(w, rate)), r"the string '\d'; return"),
    ],
)
def test_a_digit_that_is_not_an_int_is_told_so(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.decode_dtmf(wrong)
