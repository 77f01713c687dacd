"""The small-CNN checker (custom: it trains the model): a right model passes, and each usual way
to fall short fails with its own message.
"""

from __future__ import annotations

import pytest
from torch import nn

from mmcourse import check
from mmcourse.check import CheckFailed


def conv(c_in, c_out, k=3):
    return nn.Conv2d(c_in, c_out, k, padding=1 if k == 3 else 0)


def right_cnn():
    block1 = [conv(1, 16), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2)]
    block2 = [conv(16, 32), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*block1, *block2, nn.Flatten(), nn.Linear(128, 10))


def net(*layers):
    """A builder of ``nn.Sequential(*layers)`` (for models rejected before any training)."""
    return lambda: nn.Sequential(*layers)


def test_small_cnn_accepts_right_answer(capsys):
    check.small_cnn(right_cnn)
    assert "✓ small_cnn: 6,186 parameters" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda: nn.Sequential(*right_cnn(), nn.Softmax(dim=1)), "remove the final softmax"),
        (net(conv(1, 16), nn.Flatten(), nn.Linear(1024, 10)), "10,410 parameters, the budget is"),
        (net(conv(1, 16), nn.MaxPool2d(2), conv(16, 10, 4)), r"shape \(5, 10, 1, 1\).* Flatten"),
        (net(conv(1, 8), nn.Flatten(), nn.Linear(512, 5)), "must output 10 numbers"),
        (net(conv(1, 8), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 10)), "raised Runtime"),
        (net(nn.Flatten(), nn.Linear(64, 10)), "no nn.Conv2d layer"),
        (lambda: nn.Sequential, "returned the class Sequential"),
        (lambda: "cnn", "returned a str"),
        (right_cnn(), "you passed a model"),
    ],
)
def test_small_cnn_rejects_models_before_training(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.small_cnn(wrong)


def linear_cnn():  # convolutions and average pooling, no nonlinearity between them
    layers = [conv(1, 16), nn.AvgPool2d(2), conv(16, 32), nn.AvgPool2d(2)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128, 10))


def tiny_cnn():  # one 3×3 filter pooled to a 2×2 grid: too little to reach 97%
    return nn.Sequential(conv(1, 1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(4, 10))


@pytest.mark.parametrize(
    ("build", "hint"),
    [(linear_cnn, "Your model has no nonlinearity"), (tiny_cnn, "A ReLU after each convolution")],
)
def test_small_cnn_says_why_a_trained_model_falls_short(build, hint):
    with pytest.raises(CheckFailed, match=rf"% test accuracy; 97% is needed\. {hint}"):
        check.small_cnn(build)
