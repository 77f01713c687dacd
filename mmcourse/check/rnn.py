"""Checkers for the recurrent-network exercises (exercises/04_rnn.md and 05_lstm.md), on
``mmcourse.rnn``: the RNN, LSTM and GRU cells, unrolling, vanishing gradients and clipping."""

from __future__ import annotations

import itertools
import math
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from mmcourse.check import _core
from mmcourse.check._core import CheckFailed, Close, Each, Exact, Mistake, Parts, case, exercise


def _torch_cell(module: nn.Module, x, h, w_ih, w_hh, b_ih, b_hh) -> Any:
    """``module`` (an RNN, a cell) with the given weights, run on ``x`` from state ``h``."""
    with torch.no_grad():
        for parameter, value in zip(module.parameters(), (w_ih, w_hh, b_ih, b_hh), strict=True):
            parameter.copy_(value)
        return module(x, h)


def _randn(g: torch.Generator, *shapes: tuple, scale: float = 1.0) -> list[Tensor]:
    return [torch.randn(shape, generator=g) * scale for shape in shapes]


def _pre(x, h, w_ih, w_hh, b_ih, b_hh):
    return x @ w_ih.T + b_ih + h @ w_hh.T + b_hh


def _describe_cell(x, h, *weights) -> str:
    shapes = f"x of shape {tuple(x.shape)} and states of shape {tuple(h.shape)}"
    return f"for {shapes} (hidden size {h.shape[1]})"


# Task 1 (chapter 4): rnn_cell, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
def _rnn_cases():
    """The first case is square (I == H), so that a missing transpose still gives values."""
    g = torch.Generator().manual_seed(40)
    return [
        case(
            *_randn(g, (n, i), (n, h)),
            *_randn(g, (h, i), (h, h), scale=0.5),
            *_randn(g, (h,), (h,)),
        )
        for n, i, h in [(3, 4, 4), (2, 5, 3), (1, 3, 6), (4, 2, 2)]
    ]


@exercise(
    cases=_rnn_cases,
    describe=_describe_cell,
    mistakes=[
        Mistake("You return the pre-activation: apply tanh to it.", _pre),
        Mistake(
            "PyTorch's RNN cell uses tanh, not the sigmoid: h' = tanh(...).",
            lambda *a: torch.sigmoid(_pre(*a)),
        ),
        Mistake(
            "nn.RNN's default nonlinearity is tanh, not ReLU.", lambda *a: torch.relu(_pre(*a))
        ),
        Mistake(
            "b_hh is missing: PyTorch adds both biases, b_ih and b_hh.",
            lambda x, h, wi, wh, bi, bh: torch.tanh(_pre(x, h, wi, wh, bi, 0)),
        ),
        Mistake(
            "b_ih is missing: PyTorch adds both biases, b_ih and b_hh.",
            lambda x, h, wi, wh, bi, bh: torch.tanh(_pre(x, h, wi, wh, 0, bh)),
        ),
        Mistake(
            "Transpose the weights: with inputs as rows, x (N, I) times w_ih.T (I, H).",
            lambda x, h, wi, wh, bi, bh: torch.tanh(_pre(x, h, wi.T, wh.T, bi, bh)),
        ),
        Mistake(
            "The weights are swapped: w_ih multiplies the input x, w_hh the state h.",
            lambda x, h, wi, wh, bi, bh: torch.tanh(_pre(x, h, wh, wi, bi, bh)),
        ),
    ],
    shape_hint="The new state has one row per sample: (N, H).",
)
def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """Check ``fn(x, h, w_ih, w_hh, b_ih, b_hh) -> h'`` against ``nn.RNNCell``."""
    return _torch_cell(nn.RNNCell(x.shape[1], h.shape[1]), x, h, w_ih, w_hh, b_ih, b_hh)


# Task 2 (chapter 4): rnn_forward, the cell applied at t = 0 .. T-1 -> (output (N, T, H), h_T)
def _forward_cases():
    g = torch.Generator().manual_seed(41)
    return [
        case(*_randn(g, (n, t, i), (n, h)), *_randn(g, (h, i), (h, h), (h,), (h,), scale=0.5))
        for n, t, i, h in [(2, 5, 3, 4), (3, 1, 2, 2), (1, 7, 4, 3), (4, 3, 3, 5)]
    ]


def _wrong_forward(
    output=lambda s, h0: torch.stack(s, 1), last=lambda s, h0: s[-1], carry=True, reverse=False
):
    """An rnn_forward that returns ``output(states, h0), last(states, h0)``, right by default;
    ``carry=False`` starts every step from h0, ``reverse=True`` reads x backwards."""

    def forward(x, h0, *weights):
        h, states = h0, []
        for x_t in (x.flip(1) if reverse else x).unbind(1):
            h = torch.tanh(_pre(x_t, h if carry else h0, *weights))
            states.append(h)
        return output(states, h0), last(states, h0)

    return forward


@exercise(
    cases=_forward_cases,
    describe=lambda x, h0, *w: (
        f"for x of shape {tuple(x.shape)} (N, T, I) and hidden size {h0.shape[1]}"
    ),
    compare=Parts(output=Close(), h_T=Close()),
    mistakes=[
        Mistake(
            "The batch comes first: stack the states along dim=1.",
            _wrong_forward(output=lambda s, h0: torch.stack(s, 0)),
        ),
        Mistake(
            "output holds every state: (N, T, H).",
            _wrong_forward(output=lambda s, h0: torch.cat(s, 1)),
        ),
        Mistake(
            "h_T is the last state, of shape (N, H).",
            _wrong_forward(last=lambda s, h0: s[-1][None]),
        ),
        Mistake(
            "Carry the state: step t must use the h computed at step t - 1, not h0.",
            _wrong_forward(carry=False),
        ),
        Mistake(
            "Time runs forwards: step t reads x[:, t] for t = 0, 1, ..., T - 1.",
            _wrong_forward(output=lambda s, h0: torch.stack(s[::-1], 1), reverse=True),
        ),
        Mistake(
            "output[:, t] is the state *after* reading x[:, t]: h_1 .. h_T, not h_0 .. h_{T-1}.",
            _wrong_forward(output=lambda s, h0: torch.stack([h0, *s[:-1]], 1)),
        ),
        Mistake(
            "h_T is the state after the *last* step, not the first.",
            _wrong_forward(last=lambda s, h0: s[0]),
        ),
        Mistake(
            "h_T is the state after the last step, not the initial state.",
            _wrong_forward(last=lambda s, h0: h0),
        ),
    ],
)
def rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """Check ``fn(x, h0, w_ih, w_hh, b_ih, b_hh) -> (output, h_T)`` against ``nn.RNN``."""
    rnn = nn.RNN(x.shape[2], h0.shape[1], batch_first=True)
    output, h_n = _torch_cell(rnn, x, h0[None], w_ih, w_hh, b_ih, b_hh)
    return output, h_n[0]


# Task 3 (chapter 4): gradient_norm_ratio, ||dL/dh_{T-k}|| / ||dL/dh_T|| = radius**k
_RATIO_CASES = [(0.5, 10), (0.9, 40), (1.1, 20), (1.0, 7), (2.0, 1), (0.8, 0), (1.5, 12)]


@exercise(
    cases=lambda: [case(r, k) for r, k in _RATIO_CASES],
    compare=Close(atol=0.0, rtol=1e-5),
    mistakes=[
        Mistake(
            "The factors multiply: one factor of the radius per step, r**k.", lambda r, k: r * k
        ),
        Mistake(
            "Off by one: at distance 0 (h_T itself) the ratio is 1.", lambda r, k: r ** (k + 1)
        ),
        Mistake(
            "Off by one: at distance 1 there is exactly one factor.", lambda r, k: r ** (k - 1)
        ),
        Mistake(
            "Inverted: a radius below 1 makes the gradient *shrink* going back in time.",
            lambda r, k: r ** (-k),
        ),
        Mistake(
            "The decay is geometric in k with ratio r, not exp(-k r).",
            lambda r, k: math.exp(-k * r),
        ),
    ],
)
def gradient_norm_ratio(radius: float, distance: int, hidden: int = 8, steps: int = 45) -> float:
    """Check ``fn(radius, distance) -> float`` against gradients measured with autograd: the
    ratio ``||dL/dh_{T-k}|| / ||dL/dh_T||`` in a linear RNN with ``W_hh = radius * Q``."""
    g = torch.Generator().manual_seed(42)
    q, _ = torch.linalg.qr(torch.randn(hidden, hidden, generator=g, dtype=torch.float64))
    w_ih = torch.randn(hidden, 2, generator=g, dtype=torch.float64)
    x = torch.randn(3, steps, 2, generator=g, dtype=torch.float64)
    h = torch.zeros(3, hidden, dtype=torch.float64, requires_grad=True)
    states = []
    for t in range(steps):
        h = x[:, t] @ w_ih.T + h @ (radius * q).T
        h.retain_grad()
        states.append(h)
    (h * torch.linspace(-1, 1, hidden, dtype=torch.float64)).sum().backward()
    return (states[-1 - distance].grad.norm() / states[-1].grad.norm()).item()


# Task 4 (chapter 4): clip_grad_norm, g * min(1, max_norm / ||g||) with the global norm ||g||
def _clip_cases():
    """The third group is already below its threshold."""
    g = torch.Generator().manual_seed(43)
    groups = [[(3, 4), (4,), (2, 2, 2)], [(5,)], [(3, 3), (3,)], [(2, 6), (1,)]]
    return [
        case([torch.randn(s, generator=g) * scale for s in shapes], max_norm)
        for shapes, scale, max_norm in zip(groups, [3, 2, 0.05, 10], [1, 0.5, 1, 2.5], strict=True)
    ]


def _norm(grads: list[Tensor]) -> float:
    return torch.sqrt(sum((g**2).sum() for g in grads)).item()


def _scaled(grads: list[Tensor], total: float, max_norm: float) -> list[Tensor]:
    return [g * min(1.0, max_norm / total) for g in grads]


@exercise(
    cases=_clip_cases,
    describe=lambda grads, max_norm: (
        f"for gradients of shapes {', '.join(str(tuple(g.shape)) for g in grads)} "
        f"(global norm {_norm(grads):.3f}) and max_norm {max_norm}"
    ),
    compare=Each(gradient=Close()),
    mistakes=[
        Mistake(
            "Clip by the *global* norm of all the gradients together, not each one separately.",
            lambda grads, m: [g * min(1.0, m / (g.norm().item() + 1e-6)) for g in grads],
        ),
        Mistake(
            "Only rescale when the norm is above max_norm; smaller gradients stay as they are.",
            lambda grads, m: [g * m / _norm(grads) for g in grads],
        ),
        Mistake(
            "Clipping the norm rescales the whole gradient; it does not clamp each value.",
            lambda grads, m: [g.clamp(-m, m) for g in grads],
        ),
        Mistake(
            "The global norm is sqrt(sum of squared norms), not the sum of the norms.",
            lambda grads, m: _scaled(grads, sum(g.norm().item() for g in grads), m),
        ),
        Mistake(
            "The global norm is the square root of the sum of squares.",
            lambda grads, m: _scaled(grads, _norm(grads) ** 2, m),
        ),
    ],
)
def clip_grad_norm(grads: list[Tensor], max_norm: float) -> list[Tensor]:
    """Check ``fn(grads, max_norm) -> list of tensors`` against ``nn.utils.clip_grad_norm_``."""
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params]


# Chapter 5: the LSTM and GRU cells. The weights hold blocks of H rows: i, f, g, o and r, z, n.
def _gated_cases(gates: int, seed: int, with_c: bool):
    """Cell cases with ``gates`` blocks; the states are non-zero so that every term matters."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n, i, k in [(3, 4, 3), (1, 2, 5), (4, 3, 2), (2, 5, 4)]:  # k: the hidden size
        x, h, c = _randn(g, (n, i), (n, k), (n, k))
        weights = _randn(g, (gates * k, i), (gates * k, k), (gates * k,), (gates * k,))
        cases.append(case(x, h, c, *weights) if with_c else case(x, h, *weights))
    return cases


def _block_orders(cell, right: str, rows: str, skip: str = "") -> list[Mistake]:
    """A mistake for each wrong order in which ``cell`` could read its weight blocks."""
    count = {3: "three", 4: "four"}[len(right)]
    return [
        Mistake(
            f"You read the {count} blocks in the order {', '.join(order)}. PyTorch stacks them "
            f"as {', '.join(right)}: rows {rows}.",
            partial(cell, order=order),
        )
        for order in map("".join, itertools.permutations(right))
        if order not in (right, skip)
    ]


def _lstm(x, h, c, w_ih, w_hh, b_ih, b_hh, order="ifgo", swap=False, tanh_c=True, act=torch.tanh):
    """The LSTM step, with its blocks read in ``order`` and one typical mistake switched on."""
    blocks = dict(zip(order, _pre(x, h, w_ih, w_hh, b_ih, b_hh).chunk(4, 1), strict=True))
    i, f, o = (torch.sigmoid(blocks[k]) for k in "ifo")
    g = act(blocks["g"])
    c_next = f * g + i * c if swap else f * c + i * g
    return o * (torch.tanh(c_next) if tanh_c else c_next), c_next


@exercise(
    cases=lambda: _gated_cases(4, seed=50, with_c=True),
    describe=_describe_cell,
    compare=Parts(**{"h'": Close(), "c'": Close()}),
    mistakes=[
        Mistake(
            "Your forget and input gates are swapped (erratum E3): the forget gate f multiplies "
            "the old cell state, c' = f * c + i * g, and the input gate i multiplies the "
            "candidate g.",
            partial(_lstm, swap=True),
        ),
        Mistake(
            "You return (c', h'); return the pair in the order (h', c').",
            lambda *a: _lstm(*a)[::-1],
        ),
        Mistake(
            "The output is h' = o * tanh(c'): apply tanh to the new cell state.",
            partial(_lstm, tanh_c=False),
        ),
        Mistake(
            "The candidate g uses tanh (values in -1..1); only i, f and o are sigmoids.",
            partial(_lstm, act=torch.sigmoid),
        ),
        *_block_orders(  # f, i, g, o is the swap of erratum E3, above
            _lstm,
            "ifgo",
            "0:H input gate, H:2H forget gate, 2H:3H candidate, 3H:4H output gate",
            skip="figo",
        ),
    ],
)
def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """Check ``fn(x, h, c, w_ih, w_hh, b_ih, b_hh) -> (h', c')`` against ``nn.LSTMCell``."""
    return _torch_cell(nn.LSTMCell(x.shape[1], h.shape[1]), x, (h, c), w_ih, w_hh, b_ih, b_hh)


def _gru(x, h, w_ih, w_hh, b_ih, b_hh, order="rzn", swap_z=False, reset="after"):
    """The GRU step, with its blocks read in ``order`` and one typical mistake switched on."""
    xs = dict(zip(order, (x @ w_ih.T + b_ih).chunk(3, 1), strict=True))
    ws = dict(zip(order, w_hh.chunk(3, 0), strict=True))
    bs = dict(zip(order, b_hh.chunk(3), strict=True))
    r = torch.sigmoid(xs["r"] + h @ ws["r"].T + bs["r"])
    z = torch.sigmoid(xs["z"] + h @ ws["z"].T + bs["z"])
    hidden = {
        "after": lambda: r * (h @ ws["n"].T + bs["n"]),
        "before": lambda: (r * h) @ ws["n"].T + bs["n"],
        "without bias": lambda: r * (h @ ws["n"].T) + bs["n"],
    }[reset]()
    n = torch.tanh(xs["n"] + hidden)
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


@exercise(
    cases=lambda: _gated_cases(3, seed=51, with_c=False),
    describe=_describe_cell,
    mistakes=[
        Mistake(
            "z weights the *old* state in PyTorch: h' = (1 - z) * n + z * h.",
            partial(_gru, swap_z=True),
        ),
        Mistake(
            "PyTorch applies the reset gate after the product, bias included: "
            "n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), not W_hn (r * h).",
            partial(_gru, reset="before"),
        ),
        Mistake(
            "The reset gate multiplies b_hn too: r * (W_hn h + b_hn).",
            partial(_gru, reset="without bias"),
        ),
        *_block_orders(_gru, "rzn", "0:H reset gate, H:2H update gate, 2H:3H candidate"),
    ],
    shape_hint="The new state has shape (N, H).",
)
def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """Check ``fn(x, h, w_ih, w_hh, b_ih, b_hh) -> h'`` against ``nn.GRUCell``."""
    return _torch_cell(nn.GRUCell(x.shape[1], h.shape[1]), x, h, w_ih, w_hh, b_ih, b_hh)


# lstm_parameter_count: 4H (I + H) + 2 * 4H for the first layer, with I = H for the next ones
def _count(i, h, num_layers=1, bias=True, gates=4, biases=2, deep=True):
    inputs = [i] + [h if deep else i] * (num_layers - 1)
    return sum(gates * h * (n + h) + gates * h * biases * bias for n in inputs)


@exercise(
    cases=lambda: [
        case(i, h, num_layers=layers, bias=bias)
        for i, h, layers, bias in [
            (10, 20, 1, True),
            (3, 7, 2, True),
            (32, 16, 3, True),
            (5, 5, 1, False),
            (1, 64, 2, False),
            (100, 8, 1, True),
        ]
    ],
    compare=Exact(),
    mistakes=[
        Mistake(
            "An LSTM has four blocks of weights (i, f, g, o), each of size H.",
            partial(_count, gates=1),
        ),
        Mistake(
            "PyTorch keeps two bias vectors per layer, bias_ih and bias_hh.",
            partial(_count, biases=1),
        ),
        Mistake(
            "Layers after the first read the previous layer's output (size H).",
            partial(_count, deep=False),
        ),
        Mistake(
            "With bias=False there are no bias parameters.",
            lambda i, h, num_layers, bias: _count(i, h, num_layers, True),
        ),
        Mistake(
            "Count the biases: two vectors of 4H per layer.",
            lambda i, h, num_layers, bias: _count(i, h, num_layers, False),
        ),
        Mistake(
            "That is a GRU's count: an LSTM has four blocks, not three.", partial(_count, gates=3)
        ),
    ],
)
def lstm_parameter_count(input_size, hidden_size, num_layers, bias):
    """Check ``fn(input_size, hidden_size, num_layers, bias) -> int`` against ``nn.LSTM``."""
    lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, bias=bias)
    return sum(p.numel() for p in lstm.parameters())


# memory_bias (custom: judged by running an LSTM for 100 steps)
_STEPS = 100
_TOLERANCE = 0.1


def memory_run(bias: Tensor, hidden: int, seed: int = 52) -> tuple[Tensor, Tensor]:
    """``(c_0, c_T)`` of an LSTM with small random weights, ``bias_ih = bias``, ``bias_hh = 0``.

    The input has 3 features of standard deviation 1 for ``_STEPS`` steps; the weights have
    standard deviation 0.05; the initial cell state is uniform in (-1, 1), the hidden state 0.
    """
    g = torch.Generator().manual_seed(seed)
    lstm = nn.LSTM(3, hidden, batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(0.05 * torch.randn(4 * hidden, 3, generator=g))
        lstm.weight_hh_l0.copy_(0.05 * torch.randn(4 * hidden, hidden, generator=g))
        lstm.bias_ih_l0.copy_(bias)
        lstm.bias_hh_l0.zero_()
        x = torch.randn(8, _STEPS, 3, generator=g)
        c0 = torch.rand(1, 8, hidden, generator=g) * 2 - 1
        _, (_, c_n) = lstm(x, (torch.zeros(1, 8, hidden), c0))
    return c0[0], c_n[0]


def _memory_hint(bias: Tensor) -> str:
    i, f, g, o = (block.mean().item() for block in bias.chunk(4))
    keep = torch.sigmoid(torch.tensor(f)).item() ** _STEPS  # what the forget gate keeps
    if i > 3 and f < 0:
        return (
            "You opened the input gate (block 0:H) and closed the forget gate (block H:2H): that "
            "is erratum E3's swap. In PyTorch's order i, f, g, o, the forget gate is the second "
            "block, and it must be open (large positive bias) to keep c."
        )
    if f < 3 and max(g, o) > 3:
        return (
            "The large positive bias is in the wrong block: the order is i (0:H), f (H:2H), "
            "g (2H:3H), o (3H:4H); the forget gate is the second block."
        )
    if keep < 0.95:
        return (
            f"The forget gate does not stay open enough: with a bias of {f:.1f} it keeps "
            f"sigmoid({f:.1f})**{_STEPS} = {keep:.2g} of the memory after {_STEPS} steps. "
            "Use a much larger bias."
        )
    if torch.sigmoid(torch.tensor(i)).item() * _STEPS > 0.02:
        return (
            "The forget gate keeps the memory, but the input gate still lets the candidates in, "
            "and they add up over the steps: close it with a large negative bias (block 0:H)."
        )
    return ""


@_core.checker
def memory_bias(fn: Any) -> None:
    """Check ``fn(hidden_size) -> (4*hidden_size,)`` biases that make an LSTM keep its memory."""
    sizes = [1, 4, 8]
    for hidden in sizes:
        where = f"for hidden_size {hidden}"
        bias = _core.as_tensor(_core.call(fn, "memory_bias", where, hidden), where)
        if tuple(bias.shape) != (4 * hidden,):
            raise CheckFailed(
                f"{where}: your bias has shape {tuple(bias.shape)}, expected {(4 * hidden,)}. "
                "One bias per row of weight_ih_l0: four blocks (i, f, g, o) of hidden_size each."
            )
        bias = bias.detach().float().cpu()
        if not torch.isfinite(bias).all():
            raise CheckFailed(f"{where}: your bias contains NaN or infinity")
        c0, c_n = memory_run(bias, hidden)
        error = (c_n - c0).abs().max().item()
        if error > _TOLERANCE:
            hint = _memory_hint(bias)
            raise CheckFailed(
                f"{where}: after {_STEPS} steps the cell state moved by up to {error:.3f} from "
                f"its initial value (at most {_TOLERANCE} allowed)" + (f". {hint}" if hint else "")
            )
    _core.passed("memory_bias", len(sizes))
