"""The pooling checkers' shape hints (what no typical mistake explains). Their declared tasks are
tested from their tables in tests/test_checkers.py.
"""

from __future__ import annotations

import pytest

from mmcourse import check
from mmcourse.check import CheckFailed


def test_max_pool2d_says_how_many_outputs_an_axis_has():
    with pytest.raises(CheckFailed, match=r"has shape .* floor\(\(size \+ 2\*padding"):
        check.max_pool2d(lambda x, kernel_size, stride=None, padding=0: x)


def test_max_pool_backward_says_the_gradient_has_the_shape_of_x():
    with pytest.raises(CheckFailed, match="has shape .* the shape of x"):
        check.max_pool_backward(lambda x, grad_output, kernel_size: grad_output)
