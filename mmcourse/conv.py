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
* ``im2col``: every receptive field as a column (the layout of ``F.unfold``), read from the
  padded image as a strided view;
* ``conv2d``: ``im2col`` followed by a single matrix multiply, which is how fast
  convolution is often done in practice.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from mmcourse.validate import check_int, check_pair, check_shape, check_tensor

IntOrPair = int | Sequence[int]

__all__ = [
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
    """
    check_tensor(x, "input", 4)  # (N, C, H, W)
    kh, kw = check_pair(kernel_size, "kernel_size", 1)
    s, p = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
    d = check_pair(dilation, "dilation", 1)
    n, c, h, w = x.shape
    h_out = conv_output_size(h, kh, s[0], p[0], d[0])
    w_out = conv_output_size(w, kw, s[1], p[1], d[1])
    # Zero padding, then a strided view: the window of output (i, j) starts at padded pixel
    # (i*s, j*s), and its tap (u, v) sits u*d rows and v*d columns further (the "- p" of the
    # formula is absorbed by the padding). Moving one output row therefore moves s rows in
    # memory, one kernel row moves d rows, and the 6-D array of every window is a view of the
    # padded image with those strides: nothing is copied until the final reshape.
    xp = torch.nn.functional.pad(x, (p[1], p[1], p[0], p[0]))
    stride_n, stride_c, stride_h, stride_w = xp.stride()
    patches = xp.as_strided(
        (n, c, kh, kw, h_out, w_out),
        (stride_n, stride_c, stride_h * d[0], stride_w * d[1], stride_h * s[0], stride_w * s[1]),
    )  # patches[n, c, u, v, i, j] = xp[n, c, i*s + u*d, j*s + v*d]
    return patches.reshape(n, c * kh * kw, h_out * w_out)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Tensor:
    """2-D cross-correlation as one matrix multiply (im2col), like ``F.conv2d`` with groups=1.

    ``x``: ``(N, C, H, W)`` or ``(C, H, W)``; ``weight``: ``(O, C, kH, kW)``; ``bias``: ``(O,)``.
    Returns ``(N, O, H_out, W_out)`` (or ``(O, H_out, W_out)`` for an unbatched input).

    ``out = weight.reshape(O, C*kH*kW) @ im2col(x)``, reshaped to the output grid, plus bias.
    Gradients come from autograd through the gather and the matrix multiply.
    """
    x, unbatched, s, p, d = _check_conv_args(x, weight, bias, stride, padding, dilation)
    n, o = x.shape[0], weight.shape[0]
    kh, kw = weight.shape[2], weight.shape[3]
    h_out = conv_output_size(x.shape[2], kh, s[0], p[0], d[0])
    w_out = conv_output_size(x.shape[3], kw, s[1], p[1], d[1])
    columns = im2col(x, (kh, kw), s, p, d)  # (N, C*kH*kW, L)
    out = weight.reshape(o, -1) @ columns  # (O, Ckk) @ (N, Ckk, L) -> (N, O, L)
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
