"""The recurrent-network checkers beyond their declarations (tests/test_checkers.py runs those):
the custom memory_bias checker, and another right answer to clip_grad_norm."""

from __future__ import annotations

import pytest
import torch

from mmcourse import check
from mmcourse.check import CheckFailed


def bias_with(i=-10.0, f=10.0, g=0.0, o=0.0):
    def memory_bias(hidden_size):
        return torch.tensor([i, f, g, o]).repeat_interleave(hidden_size)

    return memory_bias


def clip_to_tuple(grads, max_norm):
    scale = min(1.0, max_norm / torch.sqrt(sum((g**2).sum() for g in grads)).item())
    return tuple(g * scale for g in grads)


@pytest.mark.parametrize(
    ("checker", "right"),
    [
        (check.memory_bias, bias_with()),
        (check.memory_bias, bias_with(i=-30.0, f=30.0, g=3.0, o=-2.0)),
        (check.memory_bias, lambda h: bias_with()(h).double()),
        (check.clip_grad_norm, clip_to_tuple),
    ],
)
def test_right_answers_pass(checker, right, capsys):
    checker(right)
    assert f"✓ {checker.__name__}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (bias_with(i=10.0, f=-10.0), ["moved by up to", "erratum E3's swap"]),
        (bias_with(f=0.0, g=10.0), ["wrong block", "the forget gate is the second block"]),
        (bias_with(f=0.0, o=10.0), ["wrong block"]),
        (bias_with(f=1.0), ["does not stay open enough: with a bias of 1.0", "sigmoid(1.0)**100"]),
        (bias_with(i=0.0, g=3.0), ["close it with a large negative bias"]),
        (lambda h: torch.zeros(h), ["hidden_size 1", "(1,)", "expected (4,)", "four blocks"]),
        (lambda h: [0.0] * (4 * h), ["expected a torch.Tensor"]),
        (lambda h: torch.full((4 * h,), float("nan")), ["NaN"]),
    ],
)
def test_memory_bias_rejects_biases_that_forget(wrong, words):
    with pytest.raises(CheckFailed) as failure:
        check.memory_bias(wrong)
    for word in words:
        assert word in str(failure.value)
