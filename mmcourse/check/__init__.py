"""Exercise checkers: ``from mmcourse import check``, then e.g. ``check.conv2d(my_conv2d)``.

Each checker runs your code on hidden cases and prints a line when all pass; otherwise it raises
``CheckFailed`` (an ``AssertionError``) saying which case failed, what you returned, what was
expected and, for common mistakes, why. One module per chapter; their checkers are collected here.
"""

from mmcourse.check._core import CheckFailed
from mmcourse.check.conv import conv2d, conv_layer_cost, conv_output_size, vertical_edge_kernel
from mmcourse.check.pool import (
    cross_entropy,
    max_pool2d,
    max_pool_backward,
    pool_output_size,
    small_cnn,
)

# Chapters 4-6 (rnn, lstm, text) checkers are imported here.
# Chapter 7 (audio) checkers are imported here.

__all__ = [
    "CheckFailed",
    # chapter 2
    "conv2d",
    "conv_layer_cost",
    "conv_output_size",
    "vertical_edge_kernel",
    # chapter 3
    "cross_entropy",
    "max_pool2d",
    "max_pool_backward",
    "pool_output_size",
    "small_cnn",
    # chapters 4-6
    # chapter 7
]
