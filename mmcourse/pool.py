"""2-D max and average pooling from scratch, exactly as ``torch.nn.functional`` computes them.

A pooling layer slides a ``kH × kW`` window over each channel separately, moving it ``s`` pixels
at a time, and replaces the window by one number: its maximum (max pooling) or its mean (average
pooling). For an input ``x`` of shape ``(N, C, H, W)``, with padding ``p``::

    max_pool[n, c, i, j] = max_{u, v}  x[n, c, i*s + u - p, j*s + v - p]
    avg_pool[n, c, i, j] = sum_{u, v}  x[n, c, i*s + u - p, j*s + v - p] / divisor(i, j)

where ``u < kH`` and ``v < kW``. Max pooling treats the padding as ``-inf`` (it never wins),
average pooling as zeros. There are no weights: pooling has no parameters to learn.

The output size per axis is the convolution's, ``floor((H + 2p - k) / s) + 1``; with
``ceil_mode=True`` the division rounds up instead, so that a last, partial window is kept, but
only if it starts inside the input or the left padding (``pool_output_size``).

Both functions gather the windows with ``mmcourse.conv.im2col`` after padding the input
themselves (with ``-inf`` or zeros, plus the extra right/bottom padding a ``ceil_mode`` window
needs), then reduce each window. Gradients come from autograd: through the max, only the
window's arg-max receives the gradient; through the mean, every entry receives ``1/divisor``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmcourse.conv import IntOrPair, im2col
from mmcourse.validate import check_bool, check_int, check_pair, check_tensor

__all__ = ["avg_pool2d", "max_pool2d", "pool_output_size"]


def pool_output_size(
    size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Length of a pooling layer's output along one axis, as PyTorch computes it.

    With the window spanning ``span = dilation*(kernel_size - 1) + 1`` inputs::

        floor_mode: out = floor((size + 2*padding - span) / stride) + 1
        ceil_mode:  out = ceil((size + 2*padding - span) / stride) + 1, minus one if the last
                    window would start at or after size + padding (in the right padding)

    ``stride=None`` means ``stride = kernel_size``. In ``ceil_mode`` the last window may run
    past the padded input, even when the window is longer than it. PyTorch requires
    ``padding <= kernel_size // 2`` and an output of at least one; both raise ``ValueError``.
    """
    size = check_int(size, "size", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = kernel_size if stride is None else check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    dilation = check_int(dilation, "dilation", 1)
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    span = dilation * (kernel_size - 1) + 1
    if padding > kernel_size // 2:
        raise ValueError(
            f"padding must be at most half the kernel size, {kernel_size} // 2 = "
            f"{kernel_size // 2}, got padding={padding}"
        )
    room = size + 2 * padding - span  # how far the window can move (negative: it cannot)
    if ceil_mode:
        out = -(-room // stride) + 1  # ceil division
        if (out - 1) * stride >= size + padding:  # the last window would start in the padding
            out -= 1
    else:
        out = room // stride + 1
    if out < 1:
        raise ValueError(
            f"the window spans {span} inputs (kernel_size={kernel_size}, dilation={dilation}) "
            f"but the padded input has only {size + 2 * padding} (size={size}, "
            f"padding={padding}): no window fits, the output would be empty"
        )
    return out


def _prepare(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None,
    padding: IntOrPair,
    ceil_mode: bool,
) -> tuple[Tensor, bool, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate a pooling call; return a 4-D input and the kernel, stride and padding pairs."""
    check_tensor(x, "input", (3, 4), floating=True)  # (N, C, H, W) or (C, H, W)
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)
    if min(x.shape[1:]) < 1:
        raise ValueError(
            f"expected non-empty channel, height and width dimensions, got input of shape "
            f"{tuple(x.shape)}"
        )
    k = check_pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else check_pair(stride, "stride", 1)
    p = check_pair(padding, "padding", 0)
    for axis, name in ((0, "height"), (1, "width")):
        if p[axis] > k[axis] // 2:
            raise ValueError(
                f"padding must be at most half the kernel size: kernel {name} {k[axis]} allows "
                f"padding <= {k[axis] // 2}, got {p[axis]}"
            )
        try:
            pool_output_size(x.shape[2 + axis], k[axis], s[axis], p[axis], ceil_mode=ceil_mode)
        except ValueError as error:
            raise ValueError(f"along the {name}: {error}") from None
    return x, unbatched, k, s, p


def _windows(
    x: Tensor,
    k: tuple[int, int],
    s: tuple[int, int],
    p: tuple[int, int],
    ceil_mode: bool,
    fill: float,
) -> tuple[Tensor, int, int]:
    """Every window of ``x`` as ``(N, C, kH*kW, H_out, W_out)``, the padding read as ``fill``.

    The input is padded by ``p`` on every side and, in ``ceil_mode``, by as much more on the
    right and bottom as the last window needs; ``im2col`` (without padding of its own) then
    gathers the windows.
    """
    n, c, h, w = x.shape
    h_out = pool_output_size(h, k[0], s[0], p[0], ceil_mode=ceil_mode)
    w_out = pool_output_size(w, k[1], s[1], p[1], ceil_mode=ceil_mode)
    # Padded length the last window reaches, minus what padding p already provides.
    extra_h = max(0, (h_out - 1) * s[0] + k[0] - (h + 2 * p[0]))
    extra_w = max(0, (w_out - 1) * s[1] + k[1] - (w + 2 * p[1]))
    xp = torch.nn.functional.pad(x, (p[1], p[1] + extra_w, p[0], p[0] + extra_h), value=fill)
    # im2col treats channels like kernel taps; folding C into the batch keeps them apart.
    columns = im2col(xp.reshape(n * c, 1, *xp.shape[2:]), k, s)  # (N*C, kH*kW, L)
    return columns.reshape(n, c, k[0] * k[1], h_out, w_out), h_out, w_out


def max_pool2d(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    ceil_mode: bool = False,
) -> Tensor:
    """2-D max pooling, like ``F.max_pool2d`` (without dilation and indices).

    ``out[n, c, i, j] = max_{u < kH, v < kW} x[n, c, i*s + u - p, j*s + v - p]``, the padding
    being ``-inf``. ``x``: ``(N, C, H, W)`` or ``(C, H, W)``; returns ``(N, C, H_out, W_out)``
    (or ``(C, H_out, W_out)``) with ``H_out = pool_output_size(H, kH, s, p, ceil_mode=...)``.
    ``stride=None`` means the kernel size. The gradient of each output goes to the first
    (row-major) position of its window's maximum, as in PyTorch.
    """
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    x, unbatched, k, s, p = _prepare(x, kernel_size, stride, padding, ceil_mode)
    windows, _, _ = _windows(x, k, s, p, ceil_mode, fill=float("-inf"))
    out = windows.max(dim=2).values  # ties: the first maximum, which gets the gradient
    return out.squeeze(0) if unbatched else out


def _divisor_axis(
    size: int, out: int, k: int, s: int, p: int, count_include_pad: bool, device: torch.device
) -> Tensor:
    """How many positions of each window count along one axis, as PyTorch's avg_pool2d counts.

    A window starts at input coordinate ``start = i*s - p``. With ``count_include_pad`` it
    counts up to ``min(start + k, size + p)``: the padding counts, but not what lies beyond it
    (a ``ceil_mode`` overhang). Without, only the positions inside the input count.
    """
    start = torch.arange(out, device=device) * s - p
    end = torch.clamp(start + k, max=size + p)
    if count_include_pad:
        return end - start
    return torch.clamp(end, max=size) - torch.clamp(start, min=0)


def avg_pool2d(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """2-D average pooling, like ``F.avg_pool2d`` (without ``divisor_override``).

    ``out[n, c, i, j] = sum_{u < kH, v < kW} x[n, c, i*s + u - p, j*s + v - p] / D[i, j]``, the
    padding being zeros. The divisor ``D[i, j] = D_H[i] * D_W[j]`` is the number of window
    positions inside the padded input when ``count_include_pad`` (so a full window divides by
    ``kH*kW``, but a ``ceil_mode`` window that runs past the padding divides by less), and the
    number inside the input itself otherwise. Shapes as in ``max_pool2d``.
    """
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    x, unbatched, k, s, p = _prepare(x, kernel_size, stride, padding, ceil_mode)
    windows, h_out, w_out = _windows(x, k, s, p, ceil_mode, fill=0.0)
    h, w = x.shape[2], x.shape[3]
    d_h = _divisor_axis(h, h_out, k[0], s[0], p[0], count_include_pad, x.device)
    d_w = _divisor_axis(w, w_out, k[1], s[1], p[1], count_include_pad, x.device)
    divisor = (d_h[:, None] * d_w[None, :]).to(x.dtype)  # (H_out, W_out)
    out = windows.sum(dim=2) / divisor
    return out.squeeze(0) if unbatched else out
