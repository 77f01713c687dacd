"""Checkers for the LSTM and GRU exercises (exercises/05_lstm.md)."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn

from mmcourse.check._core import (
    CheckFailed,
    as_int,
    as_tensor,
    call,
    checker,
    expect_close,
    expect_shape,
    passed,
)
from mmcourse.check.rnn import _same

_GATES = "ifgo"  # PyTorch's block order in weight_ih / weight_hh / the biases


def _cases(gates: int, seed: int) -> list[dict[str, Tensor]]:
    """Cell cases with ``gates`` blocks; the states are non-zero so that every term matters."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n, i, h in [(3, 4, 3), (1, 2, 5), (4, 3, 2), (2, 5, 4)]:
        cases.append(
            {
                "x": torch.randn(n, i, generator=g),
                "h": torch.randn(n, h, generator=g),
                "c": torch.randn(n, h, generator=g),
                "w_ih": torch.randn(gates * h, i, generator=g),
                "w_hh": torch.randn(gates * h, h, generator=g),
                "b_ih": torch.randn(gates * h, generator=g),
                "b_hh": torch.randn(gates * h, generator=g),
            }
        )
    return cases


def _load(cell: nn.Module, c: dict[str, Tensor]) -> nn.Module:
    with torch.no_grad():
        cell.weight_ih.copy_(c["w_ih"])
        cell.weight_hh.copy_(c["w_hh"])
        cell.bias_ih.copy_(c["b_ih"])
        cell.bias_hh.copy_(c["b_hh"])
    return cell


def _describe(c: dict[str, Tensor]) -> str:
    n, i = c["x"].shape
    hidden = c["h"].shape[1]
    return f"for x of shape {(n, i)} and states of shape {(n, hidden)} (hidden size {hidden})"


# ---------------------------------------------------------------------------------------------
# Task 1: lstm_cell


def _lstm_variant(
    c: dict[str, Tensor],
    order: str = "ifgo",
    swap: bool = False,
    tanh_c: bool = True,
    g_sigmoid: bool = False,
) -> tuple[Tensor, Tensor]:
    """The LSTM step with one typical mistake switched on."""
    pre = c["x"] @ c["w_ih"].T + c["b_ih"] + c["h"] @ c["w_hh"].T + c["b_hh"]
    blocks = dict(zip(order, pre.chunk(4, dim=1), strict=True))
    i, f, o = torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), torch.sigmoid(blocks["o"])
    g = torch.sigmoid(blocks["g"]) if g_sigmoid else torch.tanh(blocks["g"])
    c_next = f * g + i * c["c"] if swap else f * c["c"] + i * g
    h_next = o * (torch.tanh(c_next) if tanh_c else c_next)
    return h_next, c_next


def _lstm_hint(h_got: Any, c_got: Any, c: dict[str, Tensor]) -> str:
    def matches(variant: tuple[Tensor, Tensor]) -> bool:
        return _same(h_got, variant[0]) and _same(c_got, variant[1])

    if matches(_lstm_variant(c, swap=True)):
        return (
            "Your forget and input gates are swapped (erratum E3): the forget gate f multiplies "
            "the old cell state, c' = f * c + i * g, and the input gate i multiplies the "
            "candidate g."
        )
    right_h, right_c = _lstm_variant(c)
    if _same(h_got, right_c) and _same(c_got, right_h):
        return "You return (c', h'); return the pair in the order (h', c')."
    if matches(_lstm_variant(c, tanh_c=False)):
        return "The output is h' = o * tanh(c'): apply tanh to the new cell state."
    if matches(_lstm_variant(c, g_sigmoid=True)):
        return "The candidate g uses tanh (values in -1..1); only i, f and o are sigmoids."
    for order in itertools.permutations(_GATES):
        order = "".join(order)
        if order != _GATES and matches(_lstm_variant(c, order=order)):
            return (
                f"You read the four blocks in the order {', '.join(order)}. PyTorch stacks them "
                "as i, f, g, o: rows 0:H input gate, H:2H forget gate, 2H:3H candidate, "
                "3H:4H output gate."
            )
    return ""


@checker
def lstm_cell(fn: Any) -> None:
    """Check ``fn(x, h, c, w_ih, w_hh, b_ih, b_hh) -> (h', c')`` against ``nn.LSTMCell``."""
    cases = _cases(4, seed=50)
    for c in cases:
        case = _describe(c)
        args = [c[k].clone() for k in ("x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh")]
        got = call(fn, "lstm_cell", case, *args)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise CheckFailed(f"{case} you returned {got!r:.80}; expected a pair (h', c')")
        h_got = as_tensor(got[0], case, "as h' you returned")
        c_got = as_tensor(got[1], case, "as c' you returned")
        cell = _load(nn.LSTMCell(c["x"].shape[1], c["h"].shape[1]), c)
        with torch.no_grad():
            h_ref, c_ref = cell(c["x"], (c["h"], c["c"]))
        hint = _lstm_hint(h_got, c_got, c)
        expect_shape(h_got, h_ref.shape, case + ", h'")
        expect_shape(c_got, c_ref.shape, case + ", c'")
        expect_close(c_got, c_ref, case + ", the new cell state c'", hint)
        expect_close(h_got, h_ref, case + ", the new hidden state h'", hint)
    passed("lstm_cell", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 2: gru_cell


def _gru_variant(
    c: dict[str, Tensor],
    order: str = "rzn",
    swap_z: bool = False,
    reset_before: bool = False,
    reset_without_bias: bool = False,
) -> Tensor:
    x_parts = dict(zip(order, (c["x"] @ c["w_ih"].T + c["b_ih"]).chunk(3, dim=1), strict=True))
    w_parts = dict(zip(order, c["w_hh"].chunk(3, dim=0), strict=True))
    b_parts = dict(zip(order, c["b_hh"].chunk(3), strict=True))
    h = c["h"]
    r = torch.sigmoid(x_parts["r"] + h @ w_parts["r"].T + b_parts["r"])
    z = torch.sigmoid(x_parts["z"] + h @ w_parts["z"].T + b_parts["z"])
    if reset_before:
        hidden = (r * h) @ w_parts["n"].T + b_parts["n"]
    elif reset_without_bias:
        hidden = r * (h @ w_parts["n"].T) + b_parts["n"]
    else:
        hidden = r * (h @ w_parts["n"].T + b_parts["n"])
    n = torch.tanh(x_parts["n"] + hidden)
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


def _gru_hint(result: Any, c: dict[str, Tensor]) -> str:
    checks = [
        (
            dict(swap_z=True),
            "z weights the *old* state in PyTorch: h' = (1 - z) * n + z * h.",
        ),
        (
            dict(reset_before=True),
            "PyTorch applies the reset gate after the product, bias included: "
            "n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), not W_hn (r * h).",
        ),
        (
            dict(reset_without_bias=True),
            "The reset gate multiplies b_hn too: r * (W_hn h + b_hn).",
        ),
    ]
    for kwargs, hint in checks:
        if _same(result, _gru_variant(c, **kwargs)):
            return hint
    for order in itertools.permutations("rzn"):
        order = "".join(order)
        if order != "rzn" and _same(result, _gru_variant(c, order=order)):
            return (
                f"You read the three blocks in the order {', '.join(order)}. PyTorch stacks "
                "them as r, z, n: rows 0:H reset gate, H:2H update gate, 2H:3H candidate."
            )
    return ""


@checker
def gru_cell(fn: Any) -> None:
    """Check ``fn(x, h, w_ih, w_hh, b_ih, b_hh) -> h'`` against ``nn.GRUCell``."""
    cases = _cases(3, seed=51)
    for c in cases:
        case = _describe(c)
        args = [c[k].clone() for k in ("x", "h", "w_ih", "w_hh", "b_ih", "b_hh")]
        result = as_tensor(call(fn, "gru_cell", case, *args), case)
        cell = _load(nn.GRUCell(c["x"].shape[1], c["h"].shape[1]), c)
        with torch.no_grad():
            expected = cell(c["x"], c["h"])
        expect_shape(result, expected.shape, case, "The new state has shape (N, H).")
        expect_close(result, expected, case, _gru_hint(result, c))
    passed("gru_cell", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 3: lstm_parameter_count

_COUNT_CASES = [  # input_size, hidden_size, num_layers, bias
    (10, 20, 1, True),
    (3, 7, 2, True),
    (32, 16, 3, True),
    (5, 5, 1, False),
    (1, 64, 2, False),
    (100, 8, 1, True),
]


def _true_count(i: int, h: int, layers: int, bias: bool) -> int:
    lstm = nn.LSTM(i, h, num_layers=layers, bias=bias)
    return sum(p.numel() for p in lstm.parameters())


def _count_hint(got: int, i: int, h: int, layers: int, bias: bool) -> str:
    def count(gates=4, biases=2, deep_input=None, use_bias=bias):
        total = 0
        for layer in range(layers):
            inputs = i if layer == 0 else (h if deep_input is None else deep_input)
            total += gates * h * (inputs + h) + (gates * h * biases if use_bias else 0)
        return total

    mistakes = [
        (count(gates=1), "An LSTM has four blocks of weights (i, f, g, o), each of size H."),
        (count(biases=1), "PyTorch keeps two bias vectors per layer, bias_ih and bias_hh."),
        (count(deep_input=i), "Layers after the first read the previous layer's output (size H)."),
        (count(use_bias=True), "With bias=False there are no bias parameters."),
        (count(use_bias=False), "Count the biases: two vectors of 4H per layer."),
        (count(gates=3), "That is a GRU's count: an LSTM has four blocks, not three."),
    ]
    for value, hint in mistakes:
        if value == got and value != _true_count(i, h, layers, bias):
            return hint
    return ""


@checker
def lstm_parameter_count(fn: Any) -> None:
    """Check ``fn(input_size, hidden_size, num_layers, bias) -> int`` against ``nn.LSTM``."""
    for i, h, layers, bias in _COUNT_CASES:
        case = f"for nn.LSTM({i}, {h}, num_layers={layers}, bias={bias})"
        expected = _true_count(i, h, layers, bias)
        got = call(fn, "lstm_parameter_count", case, i, h, num_layers=layers, bias=bias)
        got = as_int(got, case, expected)
        if got != expected:
            hint = _count_hint(got, i, h, layers, bias)
            raise CheckFailed(
                f"{case} you returned {got}, expected {expected}" + (f". {hint}" if hint else "")
            )
    passed("lstm_parameter_count", len(_COUNT_CASES))


# ---------------------------------------------------------------------------------------------
# Task 4: memory_bias

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


@checker
def memory_bias(fn: Any) -> None:
    """Check ``fn(hidden_size) -> (4*hidden_size,)`` biases that make an LSTM keep its memory."""
    sizes = [1, 4, 8]
    for hidden in sizes:
        case = f"for hidden_size {hidden}"
        bias = as_tensor(call(fn, "memory_bias", case, hidden), case)
        expect_shape(
            bias,
            (4 * hidden,),
            case,
            "One bias per row of weight_ih_l0: four blocks (i, f, g, o) of hidden_size each.",
        )
        bias = bias.detach().float().cpu()
        if not torch.isfinite(bias).all():
            raise CheckFailed(f"{case}: your bias contains NaN or infinity")
        c0, c_n = memory_run(bias, hidden)
        error = (c_n - c0).abs().max().item()
        if error > _TOLERANCE:
            hint = _memory_hint(bias)
            raise CheckFailed(
                f"{case}: after {_STEPS} steps the cell state moved by up to {error:.3f} from its "
                f"initial value (at most {_TOLERANCE} allowed)" + (f". {hint}" if hint else "")
            )
    passed("memory_bias", len(sizes))
