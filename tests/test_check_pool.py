"""Pooling checkers: right answers pass, typical wrong ones fail with a precise message.

The reference solutions themselves run in the exercise notebook (nbval); the unsolved stubs are
run by tests/test_exercises.py. Here each task gets its typical mistakes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.losses import cross_entropy as library_cross_entropy
from mmcourse.pool import max_pool2d as library_max_pool2d
from mmcourse.pool import pool_output_size as library_pool_output_size

# ---------------------------------------------------------------------------------------------
# Task 1: pool_output_size


def right_size(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    return library_pool_output_size(size, kernel_size, stride, padding, ceil_mode=ceil_mode)


def naive_ceil(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    room = size + 2 * padding - kernel_size
    return (-(-room // stride) if ceil_mode else room // stride) + 1


def ignores_ceil_mode(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    return right_size(size, kernel_size, stride, padding, False)


def stride_defaults_to_one(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    return right_size(size, kernel_size, 1 if stride is None else stride, padding, ceil_mode)


def pads_one_side(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    return naive_ceil(size - padding, kernel_size, stride, padding, ceil_mode)


def forgets_plus_one(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    return right_size(size, kernel_size, stride, padding, ceil_mode) - 1


def test_pool_size_accepts_right_answers():
    check.pool_output_size(right_size)
    check.pool_output_size(lambda *args, **kwargs: np.int64(right_size(*args, **kwargs)))
    check.pool_output_size(lambda *args, **kwargs: torch.tensor(right_size(*args, **kwargs)))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (naive_ceil, "drops a last window that would start in the right padding"),
        (ignores_ceil_mode, "round the division up"),
        (stride_defaults_to_one, "stride=None means the stride equals the kernel size"),
        (pads_one_side, "both sides"),
        (forgets_plus_one, r"\+ 1"),
        (lambda *a, **kw: float(right_size(*a, **kw)), r"float\); expected the int"),
    ],
)
def test_pool_size_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message) as failure:
        check.pool_output_size(wrong)
    assert "for an input of size" in str(failure.value)


def test_pool_size_names_the_famous_case():
    with pytest.raises(CheckFailed) as failure:
        check.pool_output_size(naive_ceil)
    assert str(failure.value).startswith(
        "for an input of size 3, kernel 2, stride 2, padding 1, ceil_mode=True you returned 3, "
        "expected 2"
    )


# ---------------------------------------------------------------------------------------------
# Task 2: max_pool2d


def right_pool(x, kernel_size, stride=None, padding=0):
    return library_max_pool2d(x, kernel_size, stride, padding)


def pads_with_zeros(x, kernel_size, stride=None, padding=0):
    return F.max_pool2d(F.pad(x, (padding,) * 4), kernel_size, stride)


def averages(x, kernel_size, stride=None, padding=0):
    return F.avg_pool2d(x, kernel_size, stride, padding)


def stride_one_by_default(x, kernel_size, stride=None, padding=0):
    return F.max_pool2d(x, kernel_size, stride or 1, padding)


def ignores_padding(x, kernel_size, stride=None, padding=0):
    return F.max_pool2d(x, kernel_size, stride, 0)


def max_over_channels(x, kernel_size, stride=None, padding=0):
    out = F.max_pool2d(x, kernel_size, stride, padding)
    return out.amax(dim=1, keepdim=True).expand_as(out)


def test_max_pool_accepts_right_answer():
    check.max_pool2d(right_pool)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (pads_with_zeros, r"pad with -inf"),
        (averages, "mean: max pooling keeps its largest value"),
        (stride_one_by_default, r"your result has shape .* stride=None means .* not 1"),
        (ignores_padding, r"your result has shape .* Pad the input by 1"),
        (max_over_channels, "wrong values"),
        (lambda x, *a, **kw: right_pool(x, *a, **kw).numpy(), "a ndarray; expected a torch.Tensor"),
    ],
)
def test_max_pool_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.max_pool2d(wrong)


# ---------------------------------------------------------------------------------------------
# Task 3: max_pool_backward


def right_backward(x, grad_output, kernel_size):
    x = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(F.max_pool2d(x, kernel_size), x, grad_output)
    return grad


def spreads_evenly(x, grad_output, kernel_size):
    x = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(F.avg_pool2d(x, kernel_size), x, grad_output)
    return grad


def ignores_upstream(x, grad_output, kernel_size):
    return right_backward(x, torch.ones_like(grad_output), kernel_size)


def every_tie(x, grad_output, kernel_size):
    k = kernel_size
    up = F.interpolate(grad_output, scale_factor=k, mode="nearest")
    pooled = F.interpolate(F.max_pool2d(x, k), scale_factor=k, mode="nearest")
    grad = torch.zeros_like(x)
    h, w = up.shape[-2:]
    grad[..., :h, :w] = (x[..., :h, :w] == pooled) * up
    return grad


def last_tie(x, grad_output, kernel_size):
    flipped = right_backward(x.flip(-1, -2), grad_output.flip(-1, -2), kernel_size)
    return (
        flipped.flip(-1, -2)
        if x.shape[-1] % kernel_size == 0
        else right_backward(x, grad_output, kernel_size)
    )


def returns_output_shape(x, grad_output, kernel_size):
    return grad_output


def test_backward_accepts_right_answer():
    check.max_pool_backward(right_backward)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (spreads_evenly, "average pooling's gradient"),
        (ignores_upstream, "upstream gradient grad_output"),
        (every_tie, "tie for the maximum"),
        (returns_output_shape, "has the shape of x"),
        (last_tie, r"with ties inside the windows.*wrong values"),
    ],
)
def test_backward_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.max_pool_backward(wrong)


# ---------------------------------------------------------------------------------------------
# Task 4: cross_entropy


def over_the_batch(logits, target):  # erratum E12
    return -F.log_softmax(logits, dim=0).gather(1, target[:, None]).mean()


def sums(logits, target):
    return F.cross_entropy(logits, target, reduction="sum")


def forgets_minus(logits, target):
    return -F.cross_entropy(logits, target)


def unstable(logits, target):
    p = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(p[torch.arange(len(target)), target]).mean()


def per_sample(logits, target):
    return F.cross_entropy(logits, target, reduction="none")


def returns_float(logits, target):
    return F.cross_entropy(logits, target).item()


def detached(logits, target):
    return F.cross_entropy(logits.detach(), target)


def probability_not_log(logits, target):
    return -F.softmax(logits, dim=1)[torch.arange(len(target)), target].mean()


def test_cross_entropy_accepts_right_answers():
    check.cross_entropy(library_cross_entropy)
    check.cross_entropy(F.cross_entropy)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (over_the_batch, r"normalized over the samples .*\(erratum E12\)"),
        (sums, "divide by N"),
        (forgets_minus, r"\*negative\*"),
        (unstable, r"large logits\): your loss is (nan|inf).*log-sum-exp"),
        (per_sample, r"shape \(4,\), expected a single number"),
        (returns_float, "Python number"),
        (detached, "no gradient"),
        (probability_not_log, "Take the log"),
    ],
)
def test_cross_entropy_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.cross_entropy(wrong)


# ---------------------------------------------------------------------------------------------
# Task 5: small_cnn


def right_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


def ends_in_softmax():
    return nn.Sequential(*right_cnn(), nn.Softmax(dim=1))


def no_pooling():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(1024, 10)
    )


def no_flatten():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 10, 4)
    )


def no_nonlinearity():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.AvgPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


def wrong_flatten_size():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10)
    )


def test_small_cnn_accepts_right_answer(capsys):
    check.small_cnn(right_cnn)
    assert "✓ small_cnn: 6,186 parameters" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (ends_in_softmax, "remove the final softmax"),
        (no_pooling, "10,410 parameters, the budget is 10,000. Pool after each"),
        (no_flatten, r"returned shape \(5, 10, 1, 1\), expected \(5, 10\). Flatten"),
        (
            no_nonlinearity,
            r"reaches .*% test accuracy; 97% is needed. Your model has no nonlinearity",
        ),
        (wrong_flatten_size, "your model raised RuntimeError"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), "no nn.Conv2d layer"),
        (lambda: nn.Sequential, "returned the class Sequential"),
        (lambda: "cnn", "returned a str"),
        (right_cnn(), "you passed a model"),
    ],
)
def test_small_cnn_rejects_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.small_cnn(wrong)


def test_learner_exceptions_are_reported_with_their_line():
    def crashes(x, grad_output, kernel_size):
        return x @ grad_output  # shapes do not fit

    with pytest.raises(CheckFailed) as failure:
        check.max_pool_backward(crashes)
    assert "your max_pool_backward raised RuntimeError" in str(failure.value)
    assert "return x @ grad_output" in str(failure.value)
