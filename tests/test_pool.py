"""mmcourse.pool against torch.nn.functional: values, gradients, shapes and error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcourse.pool import avg_pool2d, max_pool2d, pool_output_size


@st.composite
def pool_settings(draw, max_size: int = 9):
    """A random valid pooling setting: shapes, kernel, stride, padding (per axis), ceil_mode."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    ceil_mode = draw(st.booleans())
    # Without ceil_mode the padded input must hold one window. With it, a window may run past
    # the end, so smaller inputs are drawn too; where even that finds no window, torch and
    # mmcourse must both refuse.
    h = draw(st.integers(1 if ceil_mode else max(1, kh - 2 * ph), max_size))
    w = draw(st.integers(1 if ceil_mode else max(1, kw - 2 * pw), max_size))
    form = draw(st.sampled_from(["pairs", "ints", "default stride"]))
    if form == "pairs":
        kwargs = dict(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw))
    else:  # square kernel, stride and padding as plain ints
        kw, sw, pw = kh, sh, ph
        w = max(w, 1 if ceil_mode else kw - 2 * pw)
        kwargs = dict(kernel_size=kh, padding=ph)
        kwargs["stride"] = sh if form == "ints" else None
    kwargs["ceil_mode"] = ceil_mode
    ties = draw(st.booleans())  # small integers make ties inside a window common
    seed = draw(st.integers(0, 2**31 - 1))
    return (n, c, h, w), kwargs, ties, seed


def _input(shape, ties, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    if ties:
        x = (2 * x).round()
    return x.requires_grad_()


def _torch_refuses(fn, x, kwargs) -> bool:
    """True when torch finds no window (a ceil_mode window longer than a tiny input)."""
    try:
        fn(x, **kwargs)
    except RuntimeError as error:
        assert "Output size is too small" in str(error)
        return True
    return False


def _values_and_grad(fn, x, kwargs):
    out = fn(x, **kwargs)
    # A non-uniform upstream gradient, so that a wrong index cannot hide behind a sum.
    upstream = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (grad,) = torch.autograd.grad((out * upstream).sum(), x)
    return out, grad


@settings(max_examples=200, deadline=None)
@given(pool_settings())
def test_max_pool2d_matches_torch(setting):
    shape, kwargs, ties, seed = setting
    x = _input(shape, ties, seed)
    if _torch_refuses(F.max_pool2d, x, kwargs):
        with pytest.raises(ValueError, match="no window fits"):
            max_pool2d(x, **kwargs)
        return
    ours, our_grad = _values_and_grad(max_pool2d, x, kwargs)
    ref, ref_grad = _values_and_grad(F.max_pool2d, x, kwargs)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(our_grad, ref_grad)  # ties: the first maximum gets it


@settings(max_examples=200, deadline=None)
@given(pool_settings(), st.booleans())
def test_avg_pool2d_matches_torch(setting, count_include_pad):
    shape, kwargs, ties, seed = setting
    kwargs = dict(kwargs, count_include_pad=count_include_pad)
    x = _input(shape, ties, seed)
    if _torch_refuses(F.avg_pool2d, x, kwargs):
        with pytest.raises(ValueError, match="no window fits"):
            avg_pool2d(x, **kwargs)
        return
    ours, our_grad = _values_and_grad(avg_pool2d, x, kwargs)
    ref, ref_grad = _values_and_grad(F.avg_pool2d, x, kwargs)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(our_grad, ref_grad)


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 30),
    k=st.integers(1, 6),
    s=st.integers(1, 5),
    p=st.integers(0, 4),
    d=st.integers(1, 3),
    ceil_mode=st.booleans(),
)
def test_output_size_matches_torch_shapes(size, k, s, p, d, ceil_mode):
    x = torch.zeros(1, 1, size, 1)
    kwargs = dict(
        kernel_size=(k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1), ceil_mode=ceil_mode
    )
    try:
        expected = F.max_pool2d(x, **kwargs).shape[2]
    except RuntimeError:
        with pytest.raises(ValueError, match="at most half the kernel size|no window fits"):
            pool_output_size(size, k, s, p, d, ceil_mode)
        return
    assert pool_output_size(size, k, s, p, d, ceil_mode) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((3, 2, 2, 1, 1, True), 2),  # a third window would start in the right padding: dropped
        ((3, 2, 2, 1, 1, False), 2),
        ((5, 2, 2, 0, 1, False), 2),  # floor drops the last input
        ((5, 2, 2, 0, 1, True), 3),  # ceil keeps a half window
        ((8, 2, None, 0, 1, False), 4),  # stride defaults to the kernel size
        ((7, 3, 2, 1, 1, False), 4),
        ((6, 3, 2, 1, 1, True), 4),  # ceil(2.5) + 1: the last window starts inside the input
        ((1, 2, 2, 0, 1, True), 1),  # ceil mode keeps a window longer than the input
    ],
)
def test_known_output_sizes(args, expected):
    assert pool_output_size(*args) == expected


def test_ceil_mode_drops_a_window_that_starts_in_the_padding():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    out = max_pool2d(x, 2, stride=2, padding=1, ceil_mode=True)
    assert out.shape == F.max_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 2, 2)
    assert torch.equal(out, torch.tensor([[[[0.0, 2.0], [6.0, 8.0]]]]))


def test_avg_pool_divisors_by_hand():
    ones = torch.ones(1, 1, 3, 3)
    # Padding counts: a corner window holds one pixel and three zeros.
    assert avg_pool2d(ones, 2, 2, 1)[0, 0, 0, 0] == 0.25
    assert avg_pool2d(ones, 2, 2, 1, count_include_pad=False)[0, 0, 0, 0] == 1.0
    # A ceil_mode window that runs past the input (no padding) divides by what it covers.
    x = torch.arange(1.0, 6.0).reshape(1, 1, 1, 5)  # 1 2 3 4 5
    out = avg_pool2d(x, (1, 2), ceil_mode=True)
    assert torch.equal(out, torch.tensor([[[[1.5, 3.5, 5.0]]]]))
    assert torch.equal(out, F.avg_pool2d(x, (1, 2), ceil_mode=True))


def test_max_pool_gradient_goes_to_the_arg_max_only():
    x = torch.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 1.0]]]], requires_grad=True)
    out = max_pool2d(x, 2)
    assert torch.equal(out.detach(), torch.tensor([[[[5.0, 8.0]]]]))
    out.backward(torch.tensor([[[[10.0, 20.0]]]]))
    assert torch.equal(x.grad, torch.tensor([[[[0.0, 10.0, 0.0, 0.0], [0.0, 0.0, 20.0, 0.0]]]]))


def test_float32_batch_of_one_and_unbatched():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 11, 6, generator=g)
    kwargs = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True)
    torch.testing.assert_close(max_pool2d(x, **kwargs), F.max_pool2d(x, **kwargs))
    torch.testing.assert_close(avg_pool2d(x, **kwargs), F.avg_pool2d(x, **kwargs))
    for fn, ref in ((max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)):
        unbatched = fn(x[0], **kwargs)
        assert unbatched.dim() == 3
        torch.testing.assert_close(unbatched, ref(x[0], **kwargs))


def test_pooling_has_no_parameters_and_keeps_channels_apart():
    x = torch.zeros(2, 3, 4, 4)
    x[:, 1] = 1.0  # only channel 1 is bright
    out = max_pool2d(x, 2)
    assert torch.equal(out[:, 1], torch.ones(2, 2, 2))
    assert torch.equal(out[:, [0, 2]], torch.zeros(2, 2, 2, 2))


# Each message must carry the facts: the argument, what was expected, what was given.
@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d])
@pytest.mark.parametrize(
    ("shape", "kwargs", "error", "facts"),
    [
        ((8, 8), dict(kernel_size=2), ValueError, r"input.*3-D or 4-D.*\(8, 8\)"),
        ((1, 1, 1, 8, 8), dict(kernel_size=2), ValueError, r"input.*4-D.*5-D"),
        ((1, 1, 4, 4), dict(kernel_size=3, padding=2), ValueError, "at most half.*2"),
        ((1, 1, 4, 4), dict(kernel_size=(2, 4), padding=(1, 3)), ValueError, "width 4.*<= 2.*3"),
        ((1, 1, 2, 2), dict(kernel_size=3), ValueError, r"along the height.*spans 3"),
        ((1, 1, 4, 4), dict(kernel_size=0), ValueError, r"kernel_size.*>= 1.*0$"),
        ((1, 1, 4, 4), dict(kernel_size=2, stride=0), ValueError, r"stride.*>= 1.*0$"),
        ((1, 1, 4, 4), dict(kernel_size=2, padding=-1), ValueError, r"padding.*>= 0.*-1$"),
        ((1, 0, 4, 4), dict(kernel_size=2), ValueError, r"non-empty.*\(1, 0, 4, 4\)"),
        ((1, 1, 0, 4), dict(kernel_size=1), ValueError, r"non-empty.*\(1, 1, 0, 4\)"),
        ((1, 1, 4, 4), dict(kernel_size=2.0), TypeError, r"kernel_size.*int.*2\.0"),
        ((1, 1, 4, 4), dict(kernel_size=(2, True)), TypeError, r"kernel_size.*int.*True"),
        ((1, 1, 4, 4), dict(kernel_size=(2, 2, 2)), ValueError, r"kernel_size.*pair.*\(2, 2, 2\)"),
        ((1, 1, 4, 4), dict(kernel_size=2, ceil_mode=1), TypeError, "ceil_mode.*bool.*int 1"),
    ],
)
def test_bad_input_gets_a_clear_error(fn, shape, kwargs, error, facts):
    with pytest.raises(error, match=facts):
        fn(torch.zeros(shape), **kwargs)


def test_non_tensor_and_integer_inputs():
    with pytest.raises(TypeError, match="input.*torch.Tensor.*list"):
        max_pool2d([[1.0]], 1)
    with pytest.raises(TypeError, match="input.*floating-point.*torch.int64"):
        avg_pool2d(torch.zeros(1, 1, 4, 4, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="count_include_pad.*bool.*None"):
        avg_pool2d(torch.zeros(1, 1, 4, 4), 2, count_include_pad=None)


@pytest.mark.parametrize(
    ("args", "error", "facts"),
    [
        ((0, 3), ValueError, r"size.*>= 1.*0$"),
        ((5, 0), ValueError, r"kernel_size.*>= 1.*0$"),
        ((5, 3, 0), ValueError, r"stride.*>= 1.*0$"),
        ((5, 3, 1, -1), ValueError, r"padding.*>= 0.*-1$"),
        ((5, 3, 1, 2), ValueError, r"padding.*at most half the kernel size.*3 // 2 = 1.*2"),
        ((9, 2, 1, 2, 3), ValueError, "at most half the kernel size"),  # dilation does not help
        ((5, 3, 1, 0, 0), ValueError, r"dilation.*>= 1.*0$"),
        ((2, 3), ValueError, r"spans 3 inputs.*only 2"),
        ((1, 3, 1, 0, 1, True), ValueError, "no window fits"),
        ((5.0, 3), TypeError, r"size.*int.*float 5\.0"),
        ((5, True), TypeError, r"kernel_size.*int.*bool True"),
        ((5, 2, 2, 0, 1, "yes"), TypeError, "ceil_mode.*bool.*'yes'"),
    ],
)
def test_output_size_rejects_bad_arguments(args, error, facts):
    with pytest.raises(error, match=facts):
        pool_output_size(*args)


def test_output_size_accepts_numpy_ints():
    assert pool_output_size(np.int64(5), np.int32(2), None, np.int64(0), 1, np.bool_(True)) == 3
