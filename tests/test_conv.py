"""mmcourse.conv against torch.nn.functional: values, gradients, shapes and error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcourse.conv import compare_speed, conv2d, conv2d_loop, conv_output_size, im2col


@st.composite
def conv_settings(draw, max_size: int = 9):
    """A random valid conv2d setting: shapes, stride, padding, dilation (per axis)."""
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    # The padded input must hold the dilated kernel at least once.
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), max_size + 4))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), max_size + 4))
    square = draw(st.booleans())  # also exercise the plain-int form of the arguments
    if square:
        kw, sw, dw, pw = kh, sh, dh, ph
        w = max(w, dw * (kw - 1) + 1 - 2 * pw)
        kwargs = dict(stride=sh, padding=ph, dilation=dh)
    else:
        kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    seed = draw(st.integers(0, 2**31 - 1))
    bias = draw(st.booleans())
    return (n, c, h, w), (o, c, kh, kw), bias, kwargs, seed


def _tensors(x_shape, w_shape, bias, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(x_shape, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(w_shape, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(w_shape[0], generator=g, dtype=torch.float64, requires_grad=True)
    return x, w, (b if bias else None)


def _values_and_grads(fn, x, w, b, kwargs):
    out = fn(x, w, b, **kwargs)
    inputs = [t for t in (x, w, b) if t is not None]
    # A non-uniform upstream gradient, so that a wrong index cannot hide behind a sum.
    upstream = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad((out * upstream).sum(), inputs)
    return out, grads


@settings(max_examples=150, deadline=None)
@given(conv_settings())
def test_conv2d_matches_torch(setting):
    x_shape, w_shape, bias, kwargs, seed = setting
    x, w, b = _tensors(x_shape, w_shape, bias, seed)
    ours, our_grads = _values_and_grads(conv2d, x, w, b, kwargs)
    ref, ref_grads = _values_and_grads(F.conv2d, x, w, b, kwargs)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)
    for a, r in zip(our_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, r)


@settings(max_examples=40, deadline=None)
@given(conv_settings(max_size=6))
def test_conv2d_loop_matches_torch(setting):
    x_shape, w_shape, bias, kwargs, seed = setting
    x, w, b = _tensors(x_shape, w_shape, bias, seed)
    ours, our_grads = _values_and_grads(conv2d_loop, x, w, b, kwargs)
    ref, ref_grads = _values_and_grads(F.conv2d, x, w, b, kwargs)
    torch.testing.assert_close(ours, ref)
    for a, r in zip(our_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, r)


@settings(max_examples=100, deadline=None)
@given(conv_settings())
def test_im2col_matches_unfold(setting):
    x_shape, w_shape, _, kwargs, seed = setting
    x, _, _ = _tensors(x_shape, w_shape, False, seed)
    kernel = w_shape[2:]
    assert torch.equal(im2col(x, kernel, **kwargs), F.unfold(x, kernel, **kwargs))


@settings(max_examples=60, deadline=None)
@given(conv_settings(), st.sampled_from(["linspace", "sum"]))
def test_im2col_gradient_matches_unfold(setting, upstream):
    # im2col has its own backward (col2im): every input pixel gets the sum of the gradients of
    # the column entries that copied it. "sum" sends a stride-0 (expanded) gradient into it.
    x_shape, w_shape, _, kwargs, seed = setting
    x, _, _ = _tensors(x_shape, w_shape, False, seed)
    kernel = w_shape[2:]
    grads = []
    for fn in (im2col, F.unfold):
        columns = fn(x, kernel, **kwargs)
        if upstream == "sum":
            loss = columns.sum()
        else:
            weights = torch.linspace(-1, 1, columns.numel(), dtype=columns.dtype)
            loss = (columns * weights.reshape(columns.shape)).sum()
        grads.append(torch.autograd.grad(loss, x)[0])
    torch.testing.assert_close(grads[0], grads[1])


@settings(max_examples=30, deadline=None)
@given(conv_settings(max_size=6))
def test_conv2d_second_derivatives_match_torch(setting):
    # The backward of im2col is written with differentiable operations, so that gradients of
    # gradients (create_graph=True) work as they do through F.conv2d.
    x_shape, w_shape, bias, kwargs, seed = setting
    results = []
    for fn in (conv2d, F.conv2d):
        x, w, b = _tensors(x_shape, w_shape, bias, seed)
        out = fn(x, w, b, **kwargs)
        (grad_x,) = torch.autograd.grad((out * out.cos()).sum(), x, create_graph=True)
        inputs = [t for t in (x, w, b) if t is not None]
        results.append(torch.autograd.grad((grad_x * grad_x).sum(), inputs))
    for ours, ref in zip(*results, strict=True):
        torch.testing.assert_close(ours, ref)


def test_conv2d_works_under_torch_func():
    # vmap over a leading axis and per-sample gradients, as chapter 8 trains ensembles.
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(4, 2, 3, 9, 7, generator=g, dtype=torch.float64)
    w = torch.randn(5, 3, 3, 2, generator=g, dtype=torch.float64)
    kwargs = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    ours = torch.func.vmap(lambda x: conv2d(x, w, **kwargs))(xs)
    torch.testing.assert_close(ours, torch.func.vmap(lambda x: F.conv2d(x, w, **kwargs))(xs))

    def loss(fn, weight, x):
        return (fn(x[None], weight, **kwargs) ** 2).sum()

    per_sample = torch.func.vmap(torch.func.grad(loss, argnums=1), in_dims=(None, None, 0))
    torch.testing.assert_close(per_sample(conv2d, w, xs[0]), per_sample(F.conv2d, w, xs[0]))


@pytest.mark.parametrize(
    ("kwargs", "error", "facts"),
    [
        (dict(fn="conv2d"), TypeError, r"fn.*callable.*str 'conv2d'"),
        (dict(x=torch.zeros(1, 1, 4, 4, dtype=torch.int64)), TypeError, r"x.*floating.*int64"),
        (dict(x=torch.zeros(1, 4, 4)), ValueError, r"x.*4-D.*\(1, 4, 4\)"),
        (dict(weight=[[1.0]]), TypeError, r"weight.*torch.Tensor.*list"),
        (dict(repeats=0), ValueError, r"repeats.*>= 1.*0$"),
        (dict(repeats=2.0), TypeError, r"repeats.*int.*float 2\.0"),
    ],
)
def test_compare_speed_rejects_bad_arguments(kwargs, error, facts):
    args = dict(fn=conv2d, x=torch.zeros(1, 1, 4, 4), weight=torch.zeros(1, 1, 3, 3), repeats=1)
    with pytest.raises(error, match=facts):
        compare_speed(**{**args, **kwargs})


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 5),
    p=st.integers(0, 4),
    d=st.integers(1, 4),
)
def test_output_size_matches_torch_shapes(size, k, s, p, d):
    x = torch.zeros(1, 1, size, 1)
    weight = torch.zeros(1, 1, k, 1)
    if d * (k - 1) + 1 > size + 2 * p:
        with pytest.raises(ValueError, match="spans"):
            conv_output_size(size, k, s, p, d)
        with pytest.raises(RuntimeError):
            F.conv2d(x, weight, stride=(s, 1), padding=(p, 0), dilation=(d, 1))
        return
    out = F.conv2d(x, weight, stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    assert conv_output_size(size, k, s, p, d) == out.shape[2]


def test_known_output_sizes():
    assert conv_output_size(7, 3, stride=2, padding=1) == 4
    assert conv_output_size(28, 5, padding=2) == 28
    assert conv_output_size(5, 3, padding=1, dilation=2) == 3
    assert conv_output_size(9, 3, stride=2, dilation=3) == 2


def test_float32_batch_of_one_and_unbatched():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 11, 6, generator=g)
    w = torch.randn(5, 3, 3, 2, generator=g)
    b = torch.randn(5, generator=g)
    kwargs = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    torch.testing.assert_close(conv2d(x, w, b, **kwargs), F.conv2d(x, w, b, **kwargs))
    unbatched = conv2d(x[0], w, b, **kwargs)
    torch.testing.assert_close(unbatched, F.conv2d(x[0], w, b, **kwargs))
    assert unbatched.dim() == 3


def test_hand_computed_example():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    w = torch.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])
    assert torch.equal(conv2d(x, w), torch.full((1, 1, 3, 3), -5.0))
    assert torch.equal(conv2d_loop(x, w), torch.full((1, 1, 3, 3), -5.0))


def test_is_cross_correlation_not_convolution():
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1.0  # a single bright pixel
    w = torch.arange(9.0).reshape(1, 1, 3, 3)
    # Correlating an impulse reproduces the kernel flipped; convolution would reproduce it as is.
    out = conv2d(x, w, padding=1)
    assert torch.equal(out[0, 0], w[0, 0].flip(0, 1))


# Each message must carry the facts: the argument, what was expected, what was given.
@pytest.mark.parametrize("fn", [conv2d, conv2d_loop])
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "b_shape", "kwargs", "error", "facts"),
    [
        ((8, 8), (1, 1, 3, 3), None, {}, ValueError, r"input.*3-D or 4-D.*\(8, 8\)"),
        ((1, 1, 1, 8, 8), (1, 1, 3, 3), None, {}, ValueError, r"input.*4-D.*5-D"),
        ((1, 1, 8, 8), (1, 3, 3), None, {}, ValueError, r"weight.*4-D.*\(1, 3, 3\)"),
        ((1, 3, 8, 8), (4, 2, 3, 3), None, {}, ValueError, r"input has 3 channels.*expects 2"),
        ((1, 1, 4, 4), (1, 1, 5, 5), None, {}, ValueError, r"kernel height 5.*spans 5.*4"),
        ((1, 1, 4, 9), (1, 1, 3, 3), None, dict(dilation=(1, 5)), ValueError, "kernel width 3"),
        ((1, 1, 8, 8), (1, 1, 3, 3), None, dict(stride=0), ValueError, r"stride.*>= 1.*0$"),
        ((1, 1, 8, 8), (1, 1, 3, 3), None, dict(padding=-1), ValueError, r"padding.*>= 0.*-1"),
        ((1, 1, 8, 8), (1, 1, 3, 3), None, dict(dilation=(1, 0)), ValueError, r"dilation.*1, 0"),
        ((1, 1, 8, 8), (2, 1, 3, 3), (3,), {}, ValueError, r"bias.*\(2,\).*\(3,\)"),
        ((1, 1, 8, 8), (1, 1, 3, 3), None, dict(stride=1.5), TypeError, r"stride.*int.*1\.5"),
        ((1, 1, 8, 8), (1, 1, 3, 3), None, dict(stride=True), TypeError, r"stride.*int.*True"),
        ((1, 1, 8, 8), (1, 1, 3, 3), None, dict(padding=(1, 2, 3)), ValueError, r"padding.*pair"),
    ],
)
def test_bad_input_gets_a_clear_error(fn, x_shape, w_shape, b_shape, kwargs, error, facts):
    x, w = torch.zeros(x_shape), torch.zeros(w_shape)
    b = None if b_shape is None else torch.zeros(b_shape)
    with pytest.raises(error, match=facts):
        fn(x, w, b, **kwargs)


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="input.*torch.Tensor.*list"):
        conv2d([[1.0]], torch.zeros(1, 1, 1, 1))
    with pytest.raises(TypeError, match="weight.*torch.Tensor.*ndarray"):
        conv2d(torch.zeros(1, 1, 3, 3), np.zeros((1, 1, 1, 1)))
    with pytest.raises(TypeError, match="bias.*torch.Tensor.*list"):
        conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 1, 1), [0.0])
    with pytest.raises(TypeError, match="input.*torch.Tensor.*list"):
        im2col([[1.0]], 1)
    with pytest.raises(ValueError, match=r"input.*4-D.*\(1, 3, 3\)"):
        im2col(torch.zeros(1, 3, 3), 1)


F64, F32, I64 = torch.float64, torch.float32, torch.int64


@pytest.mark.parametrize("fn", [conv2d, conv2d_loop])
@pytest.mark.parametrize(
    ("x_dtype", "w_dtype", "b_dtype"),
    [
        (I64, I64, F64),  # PyTorch refuses; promoting to float64 would hide the mistake
        (I64, F64, None),
        (F32, F64, None),
        (F64, F64, F32),
        (F64, F32, F32),
        (F64, F64, F64),  # one dtype: both compute, in that dtype
        (I64, I64, I64),
        (F32, F32, None),
    ],
    ids=lambda dtype: str(dtype).removeprefix("torch."),
)
def test_dtypes_are_never_mixed_as_in_torch(fn, x_dtype, w_dtype, b_dtype):
    x = torch.arange(32).reshape(2, 1, 4, 4).to(x_dtype)
    w = torch.ones(3, 1, 2, 2, dtype=w_dtype)
    b = None if b_dtype is None else torch.ones(3, dtype=b_dtype)
    try:
        expected = F.conv2d(x, w, b)
    except RuntimeError:
        given = [str(d) for d in (x_dtype, w_dtype, b_dtype) if d is not None]
        with pytest.raises(TypeError, match=".*".join(given)):
            fn(x, w, b)
        return
    out = fn(x, w, b)
    assert out.dtype == expected.dtype
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    ("args", "error", "facts"),
    [
        ((0, 3), ValueError, r"size.*>= 1.*0$"),
        ((5, 0), ValueError, r"kernel_size.*>= 1.*0$"),
        ((5, 3, 0), ValueError, r"stride.*>= 1.*0$"),
        ((5, 3, 1, -1), ValueError, r"padding.*>= 0.*-1$"),
        ((5, 3, 1, 0, 0), ValueError, r"dilation.*>= 1.*0$"),
        ((4, 3, 1, 0, 2), ValueError, r"spans 5 inputs.*only 4"),
        ((5.0, 3), TypeError, r"size.*int.*float 5\.0"),
        ((5, True), TypeError, r"kernel_size.*int.*bool True"),
        ((5, "3"), TypeError, r"kernel_size.*int.*str '3'"),
    ],
)
def test_output_size_rejects_bad_arguments(args, error, facts):
    with pytest.raises(error, match=facts):
        conv_output_size(*args)


def test_output_size_accepts_numpy_ints():
    assert conv_output_size(np.int64(7), np.int32(3), stride=np.int64(2)) == 3
