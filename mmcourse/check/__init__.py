"""Exercise checkers: ``from mmcourse import check``, then e.g. ``check.conv2d(my_conv2d)``.

Each checker runs your code on hidden cases and prints a line when all pass; otherwise it raises
``CheckFailed`` (an ``AssertionError``) saying which case failed, what you returned, what was
expected and, for common mistakes, why. One module per chapter; their checkers are collected here.
"""

from mmcourse.check._core import CheckFailed
from mmcourse.check.conv import conv2d, conv_layer_cost, conv_output_size, vertical_edge_kernel

__all__ = [
    "CheckFailed",
    "conv2d",
    "conv_layer_cost",
    "conv_output_size",
    "vertical_edge_kernel",
]
