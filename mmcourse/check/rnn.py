"""Checkers for the recurrent-network exercises (exercises/04_rnn.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from mmcourse.check._core import (
    CheckFailed,
    as_tensor,
    call,
    checker,
    expect_close,
    expect_shape,
    passed,
)


def _same(result: Any, expected: Tensor) -> bool:
    """``result`` is a tensor of ``expected``'s shape and values (loose float tolerance)."""
    if not isinstance(result, Tensor) or tuple(result.shape) != tuple(expected.shape):
        return False
    value = result.detach().to(device="cpu", dtype=torch.float64)
    return bool(torch.allclose(value, expected.detach().double(), atol=1e-4, rtol=1e-4))


def _first_hint(result: Any, candidates: list[tuple[Callable[[], Tensor], str]]) -> str:
    """The hint of the first typical mistake whose output equals ``result``."""
    for compute, hint in candidates:
        try:
            if _same(result, compute()):
                return hint
        except RuntimeError:  # that mistake is impossible for these shapes
            continue
    return ""


# ---------------------------------------------------------------------------------------------
# Task 1: rnn_cell


def _cell_cases() -> list[dict[str, Tensor]]:
    """Hidden cases: the first is square (I == H) so that a missing transpose gives values."""
    g = torch.Generator().manual_seed(40)
    cases = []
    for n, i, h in [(3, 4, 4), (2, 5, 3), (1, 3, 6), (4, 2, 2)]:
        cases.append(
            {
                "x": torch.randn(n, i, generator=g),
                "h": torch.randn(n, h, generator=g),
                "w_ih": torch.randn(h, i, generator=g) / 2,
                "w_hh": torch.randn(h, h, generator=g) / 2,
                "b_ih": torch.randn(h, generator=g),
                "b_hh": torch.randn(h, generator=g),
            }
        )
    return cases


def _cell_reference(case: dict[str, Tensor]) -> Tensor:
    cell = nn.RNNCell(case["w_ih"].shape[1], case["w_hh"].shape[0])
    with torch.no_grad():
        for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
            getattr(cell, name.replace("w_", "weight_").replace("b_", "bias_")).copy_(case[name])
        return cell(case["x"], case["h"])


def _cell_hint(result: Any, c: dict[str, Tensor]) -> str:
    x, h, w_ih, w_hh, b_ih, b_hh = (c[k] for k in ("x", "h", "w_ih", "w_hh", "b_ih", "b_hh"))
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return _first_hint(
        result,
        [
            (lambda: pre, "You return the pre-activation: apply tanh to it."),
            (
                lambda: torch.sigmoid(pre),
                "PyTorch's RNN cell uses tanh, not the sigmoid: h' = tanh(...).",
            ),
            (lambda: torch.relu(pre), "nn.RNN's default nonlinearity is tanh, not ReLU."),
            (
                lambda: torch.tanh(pre - b_hh),
                "b_hh is missing: PyTorch adds both biases, b_ih and b_hh.",
            ),
            (
                lambda: torch.tanh(pre - b_ih),
                "b_ih is missing: PyTorch adds both biases, b_ih and b_hh.",
            ),
            (
                lambda: torch.tanh(x @ w_ih + b_ih + h @ w_hh + b_hh),
                "Transpose the weights: with inputs as rows, x (N, I) times w_ih.T (I, H).",
            ),
            (
                lambda: torch.tanh(x @ w_hh.T + b_ih + h @ w_ih.T + b_hh),
                "The weights are swapped: w_ih multiplies the input x, w_hh the state h.",
            ),
        ],
    )


@checker
def rnn_cell(fn: Any) -> None:
    """Check ``fn(x, h, w_ih, w_hh, b_ih, b_hh)`` against ``nn.RNNCell``."""
    cases = _cell_cases()
    for c in cases:
        n, i = c["x"].shape
        hidden = c["h"].shape[1]
        case = f"for x of shape {(n, i)} and h of shape {(n, hidden)} (hidden size {hidden})"
        args = [c[k].clone() for k in ("x", "h", "w_ih", "w_hh", "b_ih", "b_hh")]
        result = as_tensor(call(fn, "rnn_cell", case, *args), case)
        expected = _cell_reference(c)
        expect_shape(result, expected.shape, case, "The new state has one row per sample: (N, H).")
        expect_close(result, expected, case, _cell_hint(result, c))
    passed("rnn_cell", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 2: rnn_forward


def _forward_cases() -> list[dict[str, Tensor]]:
    g = torch.Generator().manual_seed(41)
    cases = []
    for n, t, i, h in [(2, 5, 3, 4), (3, 1, 2, 2), (1, 7, 4, 3), (4, 3, 3, 5)]:
        cases.append(
            {
                "x": torch.randn(n, t, i, generator=g),
                "h0": torch.randn(n, h, generator=g),
                "w_ih": torch.randn(h, i, generator=g) / 2,
                "w_hh": torch.randn(h, h, generator=g) / 2,
                "b_ih": torch.randn(h, generator=g) / 2,
                "b_hh": torch.randn(h, generator=g) / 2,
            }
        )
    return cases


def _unroll(c: dict[str, Tensor], x: Tensor | None = None, carry: bool = True) -> list[Tensor]:
    """The states h_1 .. h_T (optionally without carrying the state from step to step)."""
    x = c["x"] if x is None else x
    h, states = c["h0"], []
    for t in range(x.shape[1]):
        prev = h if carry else c["h0"]
        h = torch.tanh(x[:, t] @ c["w_ih"].T + c["b_ih"] + prev @ c["w_hh"].T + c["b_hh"])
        states.append(h)
    return states


def _forward_reference(c: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    rnn = nn.RNN(c["x"].shape[2], c["h0"].shape[1], batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(c["w_ih"])
        rnn.weight_hh_l0.copy_(c["w_hh"])
        rnn.bias_ih_l0.copy_(c["b_ih"])
        rnn.bias_hh_l0.copy_(c["b_hh"])
        output, h_n = rnn(c["x"], c["h0"][None])
    return output, h_n[0]


def _output_hint(result: Any, c: dict[str, Tensor]) -> str:
    states = _unroll(c)
    return _first_hint(
        result,
        [
            (
                lambda: torch.stack(_unroll(c, carry=False), dim=1),
                "Carry the state: step t must use the h computed at step t - 1, not h0.",
            ),
            (
                lambda: torch.stack(_unroll(c, c["x"].flip(1)), dim=1).flip(1),
                "Time runs forwards: step t reads x[:, t] for t = 0, 1, ..., T - 1.",
            ),
            (
                lambda: torch.stack([c["h0"], *states[:-1]], dim=1),
                "output[:, t] is the state *after* reading x[:, t]: h_1 .. h_T, "
                "not h_0 .. h_{T-1}.",
            ),
        ],
    )


def _last_hint(result: Any, c: dict[str, Tensor]) -> str:
    return _first_hint(
        result,
        [
            (lambda: _unroll(c)[0], "h_T is the state after the *last* step, not the first."),
            (lambda: c["h0"], "h_T is the state after the last step, not the initial state."),
        ],
    )


@checker
def rnn_forward(fn: Any) -> None:
    """Check ``fn(x, h0, w_ih, w_hh, b_ih, b_hh) -> (output, h_T)`` against ``nn.RNN``."""
    cases = _forward_cases()
    for c in cases:
        n, t, i = c["x"].shape
        hidden = c["h0"].shape[1]
        case = f"for x of shape {(n, t, i)} (N, T, I) and hidden size {hidden}"
        args = [c[k].clone() for k in ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh")]
        got = call(fn, "rnn_forward", case, *args)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise CheckFailed(f"{case} you returned {got!r:.80}; expected a pair (output, h_T)")
        output = as_tensor(got[0], case, "as output you returned")
        last = as_tensor(got[1], case, "as h_T you returned")
        expected_output, expected_last = _forward_reference(c)
        if tuple(output.shape) == (t, n, hidden) and t != n:
            raise CheckFailed(
                f"{case}: your output has shape {(t, n, hidden)}, expected {(n, t, hidden)}. "
                "The batch comes first: stack the states along dim=1."
            )
        expect_shape(output, expected_output.shape, case, "output holds every state: (N, T, H).")
        expect_close(output, expected_output, case + ", the output", _output_hint(output, c))
        expect_shape(last, expected_last.shape, case, "h_T is the last state, of shape (N, H).")
        last_hint = _last_hint(last, c)
        expect_close(last, expected_last, case + ", h_T", last_hint)
    passed("rnn_forward", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 3: gradient_norm_ratio

_RATIO_CASES = [(0.5, 10), (0.9, 40), (1.1, 20), (1.0, 7), (2.0, 1), (0.8, 0), (1.5, 12)]


def measured_ratio(radius: float, distance: int, hidden: int = 8, steps: int = 45) -> float:
    """``||dL/dh_{T-k}|| / ||dL/dh_T||`` measured by autograd in a linear RNN, W_hh = radius*Q."""
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


def _ratio_hint(answers: list[tuple[float, int, float]]) -> str:
    mistakes = [
        (lambda r, k: r * k, "The factors multiply: one factor of the radius per step, r**k."),
        (lambda r, k: r ** (k + 1), "Off by one: at distance 0 (h_T itself) the ratio is 1."),
        (lambda r, k: r ** (k - 1), "Off by one: at distance 1 there is exactly one factor."),
        (
            lambda r, k: r ** (-k),
            "Inverted: a radius below 1 makes the gradient *shrink* going back in time.",
        ),
        (lambda r, k: math.exp(-k * r), "The decay is geometric in k with ratio r, not exp(-k r)."),
    ]
    for formula, hint in mistakes:
        try:
            if all(math.isclose(formula(r, k), got, rel_tol=1e-6) for r, k, got in answers):
                return hint
        except (OverflowError, ZeroDivisionError):
            continue
    return ""


@checker
def gradient_norm_ratio(fn: Any) -> None:
    """Check ``fn(radius, distance) -> float`` against gradients measured with autograd."""
    answers = []
    for radius, distance in _RATIO_CASES:
        case = f"for radius {radius} and distance {distance}"
        got = call(fn, "gradient_norm_ratio", case, radius, distance)
        if isinstance(got, Tensor) and got.numel() == 1:
            got = got.item()
        if (
            isinstance(got, bool)
            or not isinstance(got, int | float)
            and not hasattr(got, "__float__")
        ):
            raise CheckFailed(f"{case} you returned {got!r:.60}; expected a number")
        answers.append((radius, distance, float(got)))
    for radius, distance, got in answers:
        measured = measured_ratio(radius, distance)
        if not math.isclose(got, measured, rel_tol=1e-5):
            raise CheckFailed(
                f"for radius {radius} and distance {distance} you predicted {got:.6g}; "
                f"autograd measures {measured:.6g}"
                + (f". {hint}" if (hint := _ratio_hint(answers)) else "")
            )
    passed("gradient_norm_ratio", len(answers))


# ---------------------------------------------------------------------------------------------
# Task 4: clip_grad_norm


def _clip_cases() -> list[tuple[list[Tensor], float]]:
    g = torch.Generator().manual_seed(43)
    shapes = [[(3, 4), (4,), (2, 2, 2)], [(5,)], [(3, 3), (3,)], [(2, 6), (1,)]]
    scales = [3.0, 2.0, 0.05, 10.0]  # the third one is already below the threshold
    max_norms = [1.0, 0.5, 1.0, 2.5]
    return [
        ([torch.randn(s, generator=g) * scale for s in group], max_norm)
        for group, scale, max_norm in zip(shapes, scales, max_norms, strict=True)
    ]


def _clip_reference(grads: list[Tensor], max_norm: float) -> list[Tensor]:
    params = [torch.zeros_like(t, requires_grad=True) for t in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params]


def _clip_hint(result: list[Tensor], grads: list[Tensor], max_norm: float) -> str:
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    mistakes = [
        (
            [g * min(1.0, max_norm / (g.norm().item() + 1e-6)) for g in grads],
            "Clip by the *global* norm of all the gradients together, not each one separately.",
        ),
        (
            [g * max_norm / total for g in grads],
            "Only rescale when the norm is above max_norm; smaller gradients stay as they are.",
        ),
        (
            [g.clamp(-max_norm, max_norm) for g in grads],
            "Clipping the norm rescales the whole gradient; it does not clamp each value.",
        ),
        (
            [g * min(1.0, max_norm / sum(t.norm() for t in grads).item()) for g in grads],
            "The global norm is sqrt(sum of squared norms), not the sum of the norms.",
        ),
        (
            [g * min(1.0, max_norm / (total**2).item()) for g in grads],
            "The global norm is the square root of the sum of squares.",
        ),
    ]
    for candidate, hint in mistakes:
        if all(_same(r, c) for r, c in zip(result, candidate, strict=True)):
            return hint
    return ""


@checker
def clip_grad_norm(fn: Any) -> None:
    """Check ``fn(grads, max_norm) -> list of tensors`` against ``nn.utils.clip_grad_norm_``."""
    cases = _clip_cases()
    for grads, max_norm in cases:
        total = torch.sqrt(sum((g**2).sum() for g in grads)).item()
        shapes = ", ".join(str(tuple(g.shape)) for g in grads)
        case = f"for gradients of shapes {shapes} (global norm {total:.3f}) and max_norm {max_norm}"
        got = call(fn, "clip_grad_norm", case, [g.clone() for g in grads], max_norm)
        if isinstance(got, Tensor) or not isinstance(got, tuple | list):
            raise CheckFailed(
                f"{case} you returned a {type(got).__name__}; expected a list of tensors, "
                "one per gradient"
            )
        if len(got) != len(grads):
            raise CheckFailed(f"{case} you returned {len(got)} tensors; expected {len(grads)}")
        got = [as_tensor(t, case, f"as gradient {k} you returned") for k, t in enumerate(got)]
        expected = _clip_reference(grads, max_norm)
        hint = _clip_hint(got, grads, max_norm)
        for k, (result, reference) in enumerate(zip(got, expected, strict=True)):
            expect_shape(result, reference.shape, f"{case}, gradient {k}")
            expect_close(result, reference, f"{case}, gradient {k}", hint)
    passed("clip_grad_norm", len(cases))
