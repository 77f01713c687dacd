"""Recurrent-network checkers: right answers pass, typical wrong ones fail with a precise message.

The reference solutions themselves run in the exercise notebook (nbval); the unsolved stubs are
run by tests/test_exercises.py. Here each task gets its typical mistakes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.rnn import rnn_cell as library_cell

# ---------------------------------------------------------------------------------------------
# Task 1: rnn_cell


def right_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


def test_rnn_cell_accepts_right_answers():
    check.rnn_cell(right_cell)
    check.rnn_cell(library_cell)
    check.rnn_cell(lambda *a: right_cell(*a).double())  # float64 is fine


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda x, h, wi, wh, bi, bh: x @ wi.T + bi + h @ wh.T + bh, "apply tanh"),
        (
            lambda x, h, wi, wh, bi, bh: torch.sigmoid(x @ wi.T + bi + h @ wh.T + bh),
            "not the sigmoid",
        ),
        (lambda x, h, wi, wh, bi, bh: torch.relu(x @ wi.T + bi + h @ wh.T + bh), "not ReLU"),
        (lambda x, h, wi, wh, bi, bh: torch.tanh(x @ wi.T + bi + h @ wh.T), "b_hh is missing"),
        (
            lambda x, h, wi, wh, bi, bh: torch.tanh(x @ wi + bi + h @ wh + bh),
            "Transpose the weights",
        ),
        (
            lambda x, h, wi, wh, bi, bh: torch.tanh(x @ wh.T + bi + h @ wi.T + bh),
            "weights are swapped",
        ),
        (lambda x, h, wi, wh, bi, bh: right_cell(x, h, wi, wh, bi, bh).T, r"shape .* \(N, H\)"),
        (
            lambda x, h, wi, wh, bi, bh: right_cell(x, h, wi, wh, bi, bh).tolist(),
            "expected a torch.Tensor",
        ),
    ],
)
def test_rnn_cell_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.rnn_cell(wrong)
    assert "for x of shape" in str(failure.value)


def test_rnn_cell_reports_a_crash_with_its_line():
    def crashes(x, h, w_ih, w_hh, b_ih, b_hh):
        return torch.tanh(x @ w_ih + h @ w_hh.T)  # w_ih not transposed: fails on non-square

    def square_first(x, h, w_ih, w_hh, b_ih, b_hh):
        if x.shape[1] != h.shape[1]:
            return crashes(x, h, w_ih, w_hh, b_ih, b_hh)
        return right_cell(x, h, w_ih, w_hh, b_ih, b_hh)

    with pytest.raises(CheckFailed, match=r"your rnn_cell raised RuntimeError.*x @ w_ih"):
        check.rnn_cell(square_first)


# ---------------------------------------------------------------------------------------------
# Task 2: rnn_forward


def right_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    rnn = nn.RNN(x.shape[2], h0.shape[1], batch_first=True)
    with torch.no_grad():
        for name, value in zip(
            ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
            (w_ih, w_hh, b_ih, b_hh),
            strict=True,
        ):
            getattr(rnn, name).copy_(value)
        output, h_n = rnn(x, h0[None])
    return output, h_n[0]


def _states(x, h0, w_ih, w_hh, b_ih, b_hh, carry=True, reverse=False):
    h, states = h0, []
    steps = range(x.shape[1])
    for t in reversed(steps) if reverse else steps:
        prev = h if carry else h0
        h = torch.tanh(x[:, t] @ w_ih.T + b_ih + prev @ w_hh.T + b_hh)
        states.append(h)
    return states


def no_carry(*args):
    states = _states(*args, carry=False)
    return torch.stack(states, 1), states[-1]


def reversed_time(*args):
    states = _states(*args, reverse=True)
    return torch.stack(states[::-1], 1), states[-1]


def time_first(*args):
    states = _states(*args)
    return torch.stack(states, 0), states[-1]


def shifted_by_one(*args):
    states = _states(*args)
    return torch.stack([args[1], *states[:-1]], 1), states[-1]


def first_state_as_last(*args):
    states = _states(*args)
    return torch.stack(states, 1), states[0]


def only_output(*args):
    return torch.stack(_states(*args), 1)


def test_rnn_forward_accepts_right_answers():
    check.rnn_forward(right_forward)
    check.rnn_forward(lambda *a: list(right_forward(*a)))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (no_carry, "Carry the state"),
        (reversed_time, "Time runs forwards"),
        (time_first, "The batch comes first"),
        (shifted_by_one, r"\*after\* reading x\[:, t\]"),
        (first_state_as_last, r"after the \*last\* step"),
        (only_output, r"expected a pair \(output, h_T\)"),
    ],
)
def test_rnn_forward_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.rnn_forward(wrong)


# ---------------------------------------------------------------------------------------------
# Task 3: gradient_norm_ratio


def test_gradient_ratio_accepts_right_answers():
    check.gradient_norm_ratio(lambda r, k: r**k)
    check.gradient_norm_ratio(lambda r, k: np.float64(r) ** k)
    check.gradient_norm_ratio(lambda r, k: torch.tensor(r, dtype=torch.float64) ** k)
    check.gradient_norm_ratio(lambda r, k: math.exp(k * math.log(r)))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda r, k: r * k, "The factors multiply"),
        (lambda r, k: r ** (k + 1), "at distance 0"),
        (lambda r, k: r ** (k - 1), "at distance 1"),
        (lambda r, k: r ** (-k), "Inverted"),
        (lambda r, k: math.exp(-k * r), "not exp"),
        (lambda r, k: "r**k", "expected a number"),
        (lambda r, k: True, "expected a number"),
    ],
)
def test_gradient_ratio_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.gradient_norm_ratio(wrong)
    if "number" not in message:
        assert "autograd measures" in str(failure.value)


# ---------------------------------------------------------------------------------------------
# Task 4: clip_grad_norm


def right_clip(grads, max_norm):
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    return [g * min(1.0, max_norm / (total.item() + 1e-6)) for g in grads]


def per_tensor(grads, max_norm):
    return [g * min(1.0, max_norm / (g.norm().item() + 1e-6)) for g in grads]


def always_rescale(grads, max_norm):
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    return [g * max_norm / total for g in grads]


def clamps_values(grads, max_norm):
    return [g.clamp(-max_norm, max_norm) for g in grads]


def sum_of_norms(grads, max_norm):
    total = sum(g.norm() for g in grads).item()
    return [g * min(1.0, max_norm / total) for g in grads]


def no_square_root(grads, max_norm):
    total = sum((g**2).sum() for g in grads).item()
    return [g * min(1.0, max_norm / total) for g in grads]


def in_place_like_torch(grads, max_norm):
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    nn.utils.clip_grad_norm_(params, max_norm)
    return tuple(p.grad for p in params)


def test_clip_accepts_right_answers():
    check.clip_grad_norm(right_clip)
    check.clip_grad_norm(in_place_like_torch)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (per_tensor, r"\*global\* norm"),
        (always_rescale, "Only rescale when the norm is above max_norm"),
        (clamps_values, "does not clamp each value"),
        (sum_of_norms, "not the sum of the norms"),
        (no_square_root, "square root"),
        (lambda grads, m: torch.cat([g.flatten() for g in grads]), "expected a list of tensors"),
        (lambda grads, m: grads[:1], "you returned 1 tensors; expected 3"),
    ],
)
def test_clip_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.clip_grad_norm(wrong)


CHECKERS = [check.rnn_cell, check.rnn_forward, check.gradient_norm_ratio, check.clip_grad_norm]


@pytest.mark.parametrize("checker", CHECKERS)
def test_returning_nan_is_feedback(checker):
    def nan_everywhere(*args, **kwargs):
        if checker is check.gradient_norm_ratio:
            return float("nan")
        if checker is check.clip_grad_norm:
            return [g * float("nan") for g in args[0]]
        out = torch.full_like(args[1], float("nan"))
        return (torch.stack([out] * args[0].shape[1], 1), out) if args[0].dim() == 3 else out

    with pytest.raises(CheckFailed, match="NaN|nan"):
        checker(nan_everywhere)
