"""The recurrent-network checkers beyond their declarations (tests/test_checkers.py runs those).

Here: the custom memory_bias checker, the shape hints, the list-of-gradients comparison of
clip_grad_norm, and the library's own cells passing the checkers.
"""

from __future__ import annotations

import pytest
import torch

from mmcourse import check, rnn
from mmcourse.check import CheckFailed


def bias_with(i=-10.0, f=10.0, g=0.0, o=0.0):
    def memory_bias(hidden_size):
        return torch.tensor([i, f, g, o]).repeat_interleave(hidden_size)

    return memory_bias


@pytest.mark.parametrize(
    "right",
    [bias_with(), bias_with(i=-30.0, f=30.0, g=3.0, o=-2.0), lambda h: bias_with()(h).double()],
)
def test_memory_bias_accepts_biases_that_keep_the_memory(right, capsys):
    check.memory_bias(right)
    assert "✓ memory_bias" in capsys.readouterr().out


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


@pytest.mark.parametrize(
    ("checker", "wrong", "words"),
    [
        (check.rnn_cell, lambda *a: rnn.rnn_cell(*a).T, ["(4, 3)", "one row per sample: (N, H)"]),
        (check.gru_cell, lambda *a: rnn.gru_cell(*a)[:, :1], ["(3, 1)", "shape (N, H)"]),
    ],
)
def test_a_state_of_the_wrong_shape_gets_the_shape_hint(checker, wrong, words):
    with pytest.raises(CheckFailed) as failure:
        checker(wrong)
    for word in words:
        assert word in str(failure.value)


def right_clip(grads, max_norm):
    scale = min(1.0, max_norm / torch.sqrt(sum((g**2).sum() for g in grads)).item())
    return tuple(g * scale for g in grads)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda grads, m: torch.cat([g.flatten() for g in grads]), ["a Tensor", "list of tensors"]),
        (lambda grads, m: grads[:1], ["returned 1 tensors; expected 3"]),
        (lambda grads, m: [*right_clip(grads, m)[:2], "g"], ["as gradient 2", "a str"]),
        (lambda grads, m: [g.to("meta") for g in right_clip(grads, m)], ["device meta"]),
        (lambda grads, m: [g * float("nan") for g in grads], ["gradient 0", "NaN"]),
        (lambda grads, m: [*right_clip(grads, m)[:2], grads[2]], ["gradient 2: your result"]),
    ],
)
def test_clip_grad_norm_judges_each_gradient(wrong, words):
    check.clip_grad_norm(right_clip)  # a tuple is fine
    with pytest.raises(CheckFailed) as failure:
        check.clip_grad_norm(wrong)
    for word in words:
        assert word in str(failure.value)


def test_the_library_cells_pass_the_checkers():
    check.rnn_cell(rnn.rnn_cell)
    check.lstm_cell(rnn.lstm_cell)
    check.gru_cell(rnn.gru_cell)
