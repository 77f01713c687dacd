"""LSTM and GRU checkers: right answers pass, typical wrong ones fail with a precise message."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.rnn import gru_cell as library_gru
from mmcourse.rnn import lstm_cell as library_lstm

# ---------------------------------------------------------------------------------------------
# Task 1: lstm_cell


def lstm_with(order="ifgo", swap=False, tanh_c=True, g_sigmoid=False, return_c_first=False):
    """An LSTM cell with one typical mistake switched on."""

    def cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
        blocks = dict(zip(order, (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, 1), strict=True))
        i, f, o = (torch.sigmoid(blocks[k]) for k in "ifo")
        g = torch.sigmoid(blocks["g"]) if g_sigmoid else torch.tanh(blocks["g"])
        c_next = f * g + i * c if swap else f * c + i * g
        h_next = o * (torch.tanh(c_next) if tanh_c else c_next)
        return (c_next, h_next) if return_c_first else (h_next, c_next)

    return cell


def test_lstm_cell_accepts_right_answers():
    check.lstm_cell(lstm_with())
    check.lstm_cell(library_lstm)
    check.lstm_cell(lambda *a: list(library_lstm(*a)))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lstm_with(swap=True), r"forget and input gates are swapped \(erratum E3\)"),
        (lstm_with(order="ifog"), "order i, f, o, g. PyTorch stacks them as i, f, g, o"),
        (lstm_with(order="figo"), "erratum E3"),  # reading f, i as i, f is the same swap
        (lstm_with(order="gifo"), "order g, i, f, o"),
        (lstm_with(tanh_c=False), r"apply tanh to the new cell state"),
        (lstm_with(g_sigmoid=True), "The candidate g uses tanh"),
        (lstm_with(return_c_first=True), r"You return \(c', h'\)"),
        (lambda *a: lstm_with()(*a)[0], r"expected a pair \(h', c'\)"),
    ],
)
def test_lstm_cell_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.lstm_cell(wrong)
    assert "for x of shape" in str(failure.value)


# ---------------------------------------------------------------------------------------------
# Task 2: gru_cell


def gru_with(order="rzn", swap_z=False, reset_before=False, reset_without_bias=False):
    def cell(x, h, w_ih, w_hh, b_ih, b_hh):
        xs = dict(zip(order, (x @ w_ih.T + b_ih).chunk(3, 1), strict=True))
        ws = dict(zip(order, w_hh.chunk(3, 0), strict=True))
        bs = dict(zip(order, b_hh.chunk(3), strict=True))
        r = torch.sigmoid(xs["r"] + h @ ws["r"].T + bs["r"])
        z = torch.sigmoid(xs["z"] + h @ ws["z"].T + bs["z"])
        if reset_before:
            hidden = (r * h) @ ws["n"].T + bs["n"]
        elif reset_without_bias:
            hidden = r * (h @ ws["n"].T) + bs["n"]
        else:
            hidden = r * (h @ ws["n"].T + bs["n"])
        n = torch.tanh(xs["n"] + hidden)
        return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h

    return cell


def test_gru_cell_accepts_right_answers():
    check.gru_cell(gru_with())
    check.gru_cell(library_gru)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (gru_with(swap_z=True), r"z weights the \*old\* state"),
        (gru_with(reset_before=True), r"not W_hn \(r \* h\)"),
        (gru_with(reset_without_bias=True), "multiplies b_hn too"),
        (gru_with(order="zrn"), "order z, r, n. PyTorch stacks them as r, z, n"),
        (lambda *a: gru_with()(*a)[:, :1], r"shape \(N, H\)"),
    ],
)
def test_gru_cell_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.gru_cell(wrong)


# ---------------------------------------------------------------------------------------------
# Task 3: lstm_parameter_count


def count_with(gates=4, biases=2, deep_reads_input=False, ignore_bias_flag=False):
    def count(input_size, hidden_size, num_layers=1, bias=True):
        total = 0
        for layer in range(num_layers):
            inputs = input_size if layer == 0 or deep_reads_input else hidden_size
            total += gates * hidden_size * (inputs + hidden_size)
            if bias or ignore_bias_flag:
                total += biases * gates * hidden_size
        return total

    return count


def test_count_accepts_right_answers():
    check.lstm_parameter_count(count_with())
    check.lstm_parameter_count(
        lambda i, h, num_layers=1, bias=True: sum(
            p.numel() for p in nn.LSTM(i, h, num_layers=num_layers, bias=bias).parameters()
        )
    )


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (count_with(gates=1), "four blocks"),
        (count_with(biases=1), "two bias vectors"),
        (count_with(deep_reads_input=True), "previous layer's output"),
        (count_with(ignore_bias_flag=True), "bias=False"),
        (count_with(gates=3), "GRU's count"),
        (lambda *a, **k: float(count_with()(*a, **k)), r"\(a float\); expected the int"),
    ],
)
def test_count_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.lstm_parameter_count(wrong)
    assert "for nn.LSTM(" in str(failure.value)


# ---------------------------------------------------------------------------------------------
# Task 4: memory_bias


def bias_with(i=-10.0, f=10.0, g=0.0, o=0.0):
    def memory_bias(hidden_size):
        return torch.tensor([i, f, g, o]).repeat_interleave(hidden_size)

    return memory_bias


def test_memory_bias_accepts_right_answers():
    check.memory_bias(bias_with())
    check.memory_bias(bias_with(i=-30.0, f=30.0, g=3.0, o=-2.0))
    check.memory_bias(lambda h: bias_with()(h).double().numpy().tolist() and bias_with()(h))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (bias_with(i=10.0, f=-10.0), r"erratum E3's swap"),
        (bias_with(i=-10.0, f=0.0, g=10.0), "wrong block"),
        (bias_with(i=-10.0, f=0.0, o=10.0), "wrong block"),
        (bias_with(i=-10.0, f=1.0), r"does not stay open enough: with a bias of 1.0"),
        (bias_with(i=0.0, f=10.0, g=3.0), "close it with a large negative bias"),
        (lambda h: torch.zeros(h), r"shape \(4,\), expected \(4,\)|four blocks"),
        (lambda h: [0.0] * (4 * h), "expected a torch.Tensor"),
    ],
)
def test_memory_bias_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.memory_bias(wrong)


def test_memory_bias_message_says_how_far_the_memory_moved():
    with pytest.raises(CheckFailed, match=r"moved by up to \d\.\d+ from its initial value"):
        check.memory_bias(bias_with(f=2.0))


def test_nan_bias_is_feedback():
    with pytest.raises(CheckFailed, match="NaN"):
        check.memory_bias(lambda h: torch.full((4 * h,), float("nan")))
