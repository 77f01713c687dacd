"""2-D convolution from scratch, exactly as ``torch.nn.functional.conv2d`` computes it.

Deep-learning libraries compute *cross-correlation*: the kernel slides over the input without
being flipped. For an input ``x`` of shape ``(N, C, H, W)``, a weight of shape
``(O, C, kH, kW)``, stride ``s``, zero padding ``p`` and dilation ``d`` (each a pair, one value
per spatial axis)::

    out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] * x[n, c, i*s + u*d - p, j*s + v*d - p]

where ``x`` reads as zero outside the image. The output has ``O`` channels and spatial size
``conv_output_size(H, kH, s, p, d)`` by ``conv_output_size(W, kW, s, p, d)``.

Three implementations of that one formula live here:

* ``conv2d_loop``: loops over output positions and kernel taps; slow, but reads like the formula;
* ``im2col``: every receptive field as a column (the layout of ``F.unfold``). The input is
  padded, and tap ``(u, v)`` of every window at once is one strided slice of the padded image,
  ``xp[:, :, u*d :: s, v*d :: s]`` cut to the output size; the ``kH*kW`` slices are stacked.
  Its backward (col2im) adds each slice's gradient back where the slice came from;
* ``conv2d``: ``im2col`` followed by a single (batched) matrix multiply, which is how fast
  convolution is often done in practice.

``compare_speed`` measures how many times as long as ``F.conv2d`` one of them takes (the
chapter quotes it; ``tools/bench_conv.py`` prints it for two layer sizes).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from mmcourse.validate import check_int, check_pair, check_shape, check_tensor, describe

IntOrPair = int | Sequence[int]

__all__ = [
    "compare_speed",
    "conv_output_size",
    "conv2d",
    "conv2d_loop",
    "im2col",
]


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Length of a convolution's output along one axis.

    ``floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``

    The dilated kernel spans ``dilation*(kernel_size - 1) + 1`` inputs; it fits
    ``size + 2*padding - span`` steps of one, of which every ``stride``-th is kept.
    """
    size = check_int(size, "size", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    dilation = check_int(dilation, "dilation", 1)
    span = dilation * (kernel_size - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(
            f"the kernel spans {span} inputs (kernel_size={kernel_size}, dilation={dilation}) "
            f"but the padded input has only {size + 2 * padding} (size={size}, padding={padding})"
        )
    return (size + 2 * padding - span) // stride + 1


def _check_conv_args(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation
) -> tuple[Tensor, bool, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate the arguments of a 2-D convolution; return a batched input and the pairs.

    Like ``F.conv2d``, input, weight and bias must share one dtype: an int64 input is not
    silently promoted by a float64 bias.
    """
    check_tensor(x, "input", (3, 4))  # (N, C, H, W) or (C, H, W)
    check_tensor(weight, "weight", 4)  # (out_channels, in_channels, kH, kW)
    if bias is not None:
        check_shape(bias, "bias", (weight.shape[0],))  # one per output channel
    dtypes = {"input": x.dtype, "weight": weight.dtype}
    if bias is not None:
        dtypes["bias"] = bias.dtype
    if len(set(dtypes.values())) > 1:
        given = ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"input, weight and bias must have the same dtype, got {given}")
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"input has {x.shape[1]} channels (shape {tuple(x.shape)}) but the weight expects "
            f"{weight.shape[1]} (weight shape {tuple(weight.shape)})"
        )
    s = check_pair(stride, "stride", 1)
    p = check_pair(padding, "padding", 0)
    d = check_pair(dilation, "dilation", 1)
    for axis, name in ((0, "height"), (1, "width")):
        size, k = x.shape[2 + axis], weight.shape[2 + axis]
        span = d[axis] * (k - 1) + 1
        if span > size + 2 * p[axis]:
            raise ValueError(
                f"kernel {name} {k} with dilation {d[axis]} spans {span} inputs, more than the "
                f"padded input {name} {size} + 2*{p[axis]} = {size + 2 * p[axis]}"
            )
    return x, unbatched, s, p, d


def _tap(
    xp: Tensor,
    u: int,
    v: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_size: tuple[int, int],
) -> Tensor:
    """Tap ``(u, v)`` of every window: ``xp[:, :, i*s + u*d, j*s + v*d]`` for all ``(i, j)``.

    ``xp`` is a padded ``(N, C, Hp, Wp)`` image; the result is a strided slice of it (a view),
    ``(N, C, H_out, W_out)``: rows ``u*d, u*d + s, ...``, ``H_out`` of them, and likewise columns.
    """
    (s_h, s_w), (d_h, d_w), (h_out, w_out) = stride, dilation, out_size
    rows = slice(u * d_h, u * d_h + (h_out - 1) * s_h + 1, s_h)  # u*d + i*s for i < H_out
    cols = slice(v * d_w, v * d_w + (w_out - 1) * s_w + 1, s_w)  # v*d + j*s for j < W_out
    return xp[:, :, rows, cols]


class _Windows(torch.autograd.Function):
    """The windows of a padded image, ``(N, C, kH*kW, H_out, W_out)``, and their gradient.

    Forward (im2col) copies tap ``(u, v)`` of every window, a strided slice of ``xp``, into slot
    ``t = u*kW + v``. Backward (col2im) is the adjoint of that copy: slot ``t`` of the incoming
    gradient is *added* into the same slice of a zero image, since windows overlap and a pixel
    read by several taps receives the sum of their gradients. Autograd would derive the same
    from the slices, but with a zero image per tap; one zero image and ``kH*kW`` in-place adds
    are cheaper, and written with differentiable operations, so second derivatives still work.
    """

    generate_vmap_rule = True  # so that torch.func.vmap and torch.func.grad work through it

    @staticmethod
    def forward(xp, kernel_size, stride, dilation, out_size):
        kh, kw = kernel_size
        taps = [_tap(xp, u, v, stride, dilation, out_size) for u in range(kh) for v in range(kw)]
        return torch.stack(taps, dim=2)

    @staticmethod
    def setup_context(ctx, inputs, output):
        xp, ctx.kernel_size, ctx.stride, ctx.dilation, ctx.out_size = inputs
        ctx.xp_shape = xp.shape

    @staticmethod
    def backward(ctx, grad):
        kh, kw = ctx.kernel_size
        grad_xp = grad.new_zeros(ctx.xp_shape)
        for u in range(kh):
            for v in range(kw):
                tap = _tap(grad_xp, u, v, ctx.stride, ctx.dilation, ctx.out_size)
                tap.add_(grad[:, :, u * kw + v])  # +=: a pixel in several windows sums them
        return grad_xp, None, None, None, None


def im2col(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Tensor:
    """Gather every receptive field of ``x`` into a column (the layout of ``F.unfold``).

    Shapes: ``x`` is ``(N, C, H, W)``; the result is ``(N, C*kH*kW, L)`` where
    ``L = H_out * W_out``. Column ``l = i*W_out + j`` holds the inputs that output position
    ``(i, j)`` sees, ordered by channel, then kernel row ``u``, then kernel column ``v``:
    ``x[n, c, i*s + u*d - p, j*s + v*d - p]``.

    How: pad ``x`` with ``p`` zeros, so that input pixel ``i*s + u*d - p`` is padded pixel
    ``i*s + u*d``; then, for each of the ``kH*kW`` taps, take the strided slice of the padded
    image that holds tap ``(u, v)`` of every window, and stack the slices. The gradient adds
    each slice back where it came from (col2im, see ``_Windows``).
    """
    check_tensor(x, "input", 4)  # (N, C, H, W)
    kh, kw = check_pair(kernel_size, "kernel_size", 1)
    s, p = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
    d = check_pair(dilation, "dilation", 1)
    n, c, h, w = x.shape
    h_out = conv_output_size(h, kh, s[0], p[0], d[0])
    w_out = conv_output_size(w, kw, s[1], p[1], d[1])
    xp = torch.nn.functional.pad(x, (p[1], p[1], p[0], p[0]))  # zeros around the image
    windows = _Windows.apply(xp, (kh, kw), s, d, (h_out, w_out))  # (N, C, kH*kW, H_out, W_out)
    return windows.reshape(n, c * kh * kw, h_out * w_out)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Tensor:
    """2-D cross-correlation as one matrix multiply (im2col), like ``F.conv2d`` with groups=1.

    ``out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] * x[n, c, i*s + u*d - p, j*s + v*d - p]``

    ``x``: ``(N, C, H, W)`` or ``(C, H, W)``; ``weight``: ``(O, C, kH, kW)``; ``bias``: ``(O,)``.
    Returns ``(N, O, H_out, W_out)`` (or ``(O, H_out, W_out)`` for an unbatched input).

    How: ``im2col(x)`` lays the inputs ``x[n, c, i*s + u*d - p, j*s + v*d - p]`` of output
    ``(i, j)`` out as column ``i*W_out + j``, rows indexed by ``(c, u, v)``; the weight reshaped
    to ``(O, C*kH*kW)`` has its rows indexed the same way, so the sum over ``(c, u, v)`` is the
    product ``out[n] = weight.reshape(O, C*kH*kW) @ im2col(x)[n]``, one per sample (``bmm``),
    then reshaped to the output grid, plus bias. Gradients: autograd through the product, and
    ``im2col``'s own backward (col2im) for the input.
    """
    x, unbatched, s, p, d = _check_conv_args(x, weight, bias, stride, padding, dilation)
    n, o = x.shape[0], weight.shape[0]
    kh, kw = weight.shape[2], weight.shape[3]
    h_out = conv_output_size(x.shape[2], kh, s[0], p[0], d[0])
    w_out = conv_output_size(x.shape[3], kw, s[1], p[1], d[1])
    columns = im2col(x, (kh, kw), s, p, d)  # (N, C*kH*kW, L)
    # One (O, C*kH*kW) @ (C*kH*kW, L) product per sample, the weight broadcast over the batch
    # as a view. A plain `weight.reshape(o, -1) @ columns` computes the same, but took up to
    # twice as long in tools/bench_conv.py whenever the weight requires grad.
    out = torch.bmm(weight.reshape(1, o, -1).expand(n, -1, -1), columns)  # (N, O, L)
    out = out.reshape(n, o, h_out, w_out)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv2d_loop(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Tensor:
    """The same convolution written as loops over output positions and kernel taps.

    The input is zero-padded first, so that input pixel ``(i*s + u*d - p, j*s + v*d - p)`` is
    padded pixel ``(i*s + u*d, j*s + v*d)``. For every output position ``(i, j)`` and kernel
    tap ``(u, v)`` the loop adds ``x[:, :, r, c] @ w[:, :, u, v].T``: the sum over input
    channels, for every sample and output channel at once. Meant for reading, not for speed.
    """
    x, unbatched, s, p, d = _check_conv_args(x, weight, bias, stride, padding, dilation)
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    h_out = conv_output_size(h, kh, s[0], p[0], d[0])
    w_out = conv_output_size(w, kw, s[1], p[1], d[1])
    xp = torch.nn.functional.pad(x, (p[1], p[1], p[0], p[0]))  # zeros around the image
    out = x.new_zeros(n, o, h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            total = x.new_zeros(n, o) if bias is None else bias.expand(n, o)
            for u in range(kh):
                for v in range(kw):
                    r = i * s[0] + u * d[0]  # row and column in the padded image
                    c = j * s[1] + v * d[1]
                    total = total + xp[:, :, r, c] @ weight[:, :, u, v].T
            out[:, :, i, j] = total
    return out.squeeze(0) if unbatched else out


def compare_speed(
    fn: Callable[..., Tensor],
    x: Tensor,
    weight: Tensor,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    repeats: int = 10,
) -> dict[str, float]:
    """How many times as long as ``F.conv2d`` the convolution ``fn`` takes, on ``x``'s device.

    ``ratio = median over rounds of seconds(fn) / seconds(F.conv2d)``, for the forward pass and
    for forward plus backward (the gradients of input and weight, for one fixed upstream
    gradient). Each of ``repeats`` rounds, after one round of warm-up, times the two back to
    back, in alternating order: a burst of other work on the machine then slows both sides of a
    round alike, or spoils a few rounds that the median ignores. ``x``: ``(N, C, H, W)``,
    ``weight``: ``(O, C, kH, kW)``, floating point; ``fn`` is called as ``F.conv2d`` is.

    Returns the two ratios, ``"forward"`` and ``"forward+backward"``, and the median times in
    milliseconds, ``"forward ms"``, ``"forward+backward ms"`` and the same for ``F.conv2d``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable like F.conv2d, got {describe(fn)}")
    check_tensor(x, "x", 4, floating=True)  # (N, C, H, W)
    check_tensor(weight, "weight", 4, floating=True)  # (O, C, kH, kW)
    repeats = check_int(repeats, "repeats", 1)
    x, weight = x.detach().requires_grad_(), weight.detach().requires_grad_()
    conv_args = dict(stride=stride, padding=padding, dilation=dilation)
    reference = torch.nn.functional.conv2d
    out = reference(x, weight, **conv_args)
    upstream = torch.linspace(-1, 1, out.numel(), device=x.device).reshape(out.shape)
    runs = {
        "forward": lambda conv: conv(x, weight, **conv_args),
        "forward+backward": lambda conv: torch.autograd.grad(
            conv(x, weight, **conv_args), (x, weight), upstream.to(out.dtype)
        ),
    }

    def seconds(kind: str, conv: Callable[..., Tensor]) -> float:
        start = time.perf_counter()
        runs[kind](conv)
        if x.is_cuda:
            torch.cuda.synchronize(x.device)  # GPU work is queued: wait until it is done
        return time.perf_counter() - start

    convs = {"fn": fn, "F.conv2d": reference}
    times = {(kind, name): [] for kind in runs for name in convs}
    for round_ in range(repeats + 1):  # round 0 warms up and is not recorded
        for kind in runs:
            for name in ("fn", "F.conv2d") if round_ % 2 else ("F.conv2d", "fn"):
                took = seconds(kind, convs[name])
                if round_ > 0:
                    times[kind, name].append(took)
    result = {}
    for kind in runs:
        ours, theirs = times[kind, "fn"], times[kind, "F.conv2d"]
        result[kind] = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
        result[f"{kind} ms"] = 1e3 * statistics.median(ours)
        result[f"F.conv2d {kind} ms"] = 1e3 * statistics.median(theirs)
    return result
