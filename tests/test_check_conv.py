"""Convolution checkers: right answers pass, typical wrong ones fail with a precise message.

The reference solutions themselves run in the exercise notebook (nbval); the unsolved stubs are
run by tests/test_exercises.py. Here each task gets its typical mistakes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.conv import conv_output_size as library_output_size

# ---------------------------------------------------------------------------------------------
# Task 1: conv_output_size


def right_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def forgets_dilation(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - kernel_size) // stride + 1


def pads_one_side(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1


def rounds_up(size, kernel_size, stride=1, padding=0, dilation=1):
    return -(-(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride) + 1


def forgets_plus_one(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride


def true_division(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1


def test_output_size_accepts_right_answers():
    check.conv_output_size(right_size)
    check.conv_output_size(library_output_size)
    check.conv_output_size(lambda *args: np.int64(right_size(*args)))  # NumPy ints are ints


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (forgets_dilation, "forget the dilation"),
        (pads_one_side, "both sides"),
        (rounds_up, "Round down"),
        (forgets_plus_one, r"\+ 1"),
        (true_division, r"float\); expected the int"),
    ],
)
def test_output_size_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.conv_output_size(wrong)
    assert "for an input of size" in str(failure.value)


def test_output_size_message_names_the_case():
    def off_by_one_on_first_case(size, k, s, p, d):
        return 3 if (size, k, s, p, d) == (7, 3, 2, 1, 1) else right_size(size, k, s, p, d)

    with pytest.raises(CheckFailed) as failure:
        check.conv_output_size(off_by_one_on_first_case)
    assert str(failure.value) == (
        "for an input of size 7, kernel 3, stride 2, padding 1, dilation 1 you returned 3, "
        "expected 4"
    )  # no hint: no typical mistake explains all of this function's answers


# ---------------------------------------------------------------------------------------------
# Task 2: conv2d


def right_conv(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride, padding)


def flips_kernel(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight.flip(-1, -2), bias, stride, padding)


def ignores_bias(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, None, stride, padding)


def ignores_padding(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride, 0)


def ignores_stride(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, 1, padding)


def returns_numpy(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride, padding).numpy()


def sums_output_channels(x, weight, bias=None, stride=1, padding=0):
    out = F.conv2d(x, weight, bias, stride, padding)
    return out.sum(1, keepdim=True).expand_as(out)


def test_conv2d_accepts_right_answer():
    check.conv2d(right_conv)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (flips_kernel, "true convolution"),
        (ignores_bias, "bias is missing"),
        (ignores_padding, r"your result has shape .* expected .* pad both sides"),
        (ignores_stride, r"your result has shape .* move the window by the stride"),
        (returns_numpy, "you returned a ndarray; expected a torch.Tensor"),
        (sums_output_channels, "its own kernel"),
    ],
)
def test_conv2d_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.conv2d(wrong)


def test_conv2d_reports_learner_exceptions_with_their_line():
    def crashes(x, weight, bias=None, stride=1, padding=0):
        return x @ weight  # shapes do not fit

    with pytest.raises(CheckFailed) as failure:
        check.conv2d(crashes)
    message = str(failure.value)
    assert "your conv2d raised RuntimeError" in message
    assert "return x @ weight" in message
    assert failure.value.__cause__ is None  # no confusing chained traceback


# ---------------------------------------------------------------------------------------------
# Task 3: vertical_edge_kernel

SOBEL_X = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])


@pytest.mark.parametrize(
    "answer",
    [
        SOBEL_X,
        -SOBEL_X,  # the sign only says which way the edge goes
        torch.tensor([[0.0, 0, 0], [-1, 0, 1], [0, 0, 0]]),  # a plain difference
        SOBEL_X.tolist(),
        SOBEL_X.numpy(),
        SOBEL_X[None, None],
        lambda: SOBEL_X,
    ],
)
def test_edge_kernel_accepts_right_answers(answer):
    check.vertical_edge_kernel(answer)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (SOBEL_X.T, "responds to a horizontal edge but not at all to a vertical one"),
        (SOBEL_X + SOBEL_X.T, "responds to a horizontal edge too"),
        (torch.full((3, 3), 1 / 9), "responds to a flat gray image"),
        (torch.zeros(3, 3), "no response"),
        (torch.eye(3), "responds to a flat gray image"),
        (torch.ones(2, 2), r"shape \(2, 2\); expected \(3, 3\)"),
        ("sobel", "expected a 3×3 torch.Tensor"),
        (torch.full((3, 3), float("nan")), "NaN"),
    ],
)
def test_edge_kernel_rejects_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.vertical_edge_kernel(wrong)


# ---------------------------------------------------------------------------------------------
# Task 4: conv_layer_cost


def right_cost(c, o, k, h, w, stride=1, padding=0, bias=True):
    layer = torch.nn.Conv2d(c, o, k, stride, padding, bias=bias)
    out = layer(torch.zeros(1, c, h, w))
    return sum(p.numel() for p in layer.parameters()), out[0].numel() * c * k * k


def forgets_bias(c, o, k, h, w, stride=1, padding=0, bias=True):
    params, macs = right_cost(c, o, k, h, w, stride, padding, bias)
    return params - (o if bias else 0), macs


def forgets_in_channels(c, o, k, h, w, stride=1, padding=0, bias=True):
    params, macs = right_cost(c, o, k, h, w, stride, padding, bias)
    return o * k * k + (o if bias else 0), macs


def uses_input_size(c, o, k, h, w, stride=1, padding=0, bias=True):
    params, _ = right_cost(c, o, k, h, w, stride, padding, bias)
    return params, o * h * w * c * k * k


def counts_bias_as_mac(c, o, k, h, w, stride=1, padding=0, bias=True):
    params, macs = right_cost(c, o, k, h, w, stride, padding, bias)
    return params, macs // (c * k * k) * (c * k * k + (1 if bias else 0))


def test_cost_accepts_right_answer():
    check.conv_layer_cost(right_cost)
    check.conv_layer_cost(lambda *a, **kw: list(right_cost(*a, **kw)))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (forgets_bias, "Count the bias"),
        (forgets_in_channels, "one k×k kernel per input channel"),
        (uses_input_size, r"\*output\* position"),
        (counts_bias_as_mac, "not a multiply-add"),
        (lambda *a, **kw: 42, "expected a pair"),
        (lambda *a, **kw: (1.5, 2), r"your parameter count is 1.5 \(a float\)"),
    ],
)
def test_cost_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.conv_layer_cost(wrong)


def test_check_failed_is_an_assertion_error():
    assert issubclass(CheckFailed, AssertionError)
