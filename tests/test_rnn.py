"""mmcourse.rnn against torch.nn: cells and layers, values and gradients, shapes and errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmcourse.rnn import GRU, LSTM, RNN, gru_cell, lstm_cell, rnn_cell

OURS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _flat(result) -> torch.Tensor:
    """Every tensor in an (output, state) result, flattened into one vector."""
    output, state = result
    states = state if isinstance(state, tuple) else (state,)
    return torch.cat([output.flatten(), *(s.flatten() for s in states)])


def _values_and_grads(module, x, state):
    """The flattened result and the gradients w.r.t. input, state and parameters (by name)."""
    x = x.detach().requires_grad_()
    leaves = [x]
    if state is not None:
        if isinstance(state, tuple):
            state = tuple(s.detach().requires_grad_() for s in state)
            leaves += list(state)
        else:
            state = state.detach().requires_grad_()
            leaves.append(state)
    names = sorted(name for name, _ in module.named_parameters())
    leaves += [module.get_parameter(name) for name in names]
    out = _flat(module(x, state))
    upstream = torch.linspace(-1, 1, out.numel(), dtype=out.dtype)  # non-uniform upstream
    return out, torch.autograd.grad((out * upstream).sum(), leaves)


@st.composite
def layer_settings(draw):
    kind = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    kwargs = dict(
        input_size=draw(st.integers(1, 5)),
        hidden_size=draw(st.integers(1, 5)),
        num_layers=draw(st.integers(1, 3)),
        batch_first=draw(st.booleans()),
        bias=draw(st.booleans()),
    )
    if kind == "rnn":
        kwargs["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    batch = draw(st.integers(1, 3))
    steps = draw(st.integers(1, 6))
    unbatched = draw(st.booleans())
    with_state = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return kind, kwargs, batch, steps, unbatched, with_state, seed


@settings(max_examples=120, deadline=None)
@given(layer_settings())
def test_layers_match_torch(setting):
    kind, kwargs, batch, steps, unbatched, with_state, seed = setting
    torch.manual_seed(seed)
    reference = TORCH[kind](**kwargs).double()
    ours = OURS[kind].from_torch(reference)
    layers, hidden, inputs = kwargs["num_layers"], kwargs["hidden_size"], kwargs["input_size"]
    if unbatched:
        x = torch.randn(steps, inputs, dtype=torch.float64)
        state_shape = (layers, hidden)
    else:
        shape = (batch, steps, inputs) if kwargs["batch_first"] else (steps, batch, inputs)
        x = torch.randn(shape, dtype=torch.float64)
        state_shape = (layers, batch, hidden)
    state = None
    if with_state:
        state = torch.randn(state_shape, dtype=torch.float64)
        if kind == "lstm":
            state = (state, torch.randn(state_shape, dtype=torch.float64))
    ours_out, ours_grads = _values_and_grads(ours, x, state)
    ref_out, ref_grads = _values_and_grads(reference, x, state)
    torch.testing.assert_close(ours_out, ref_out)
    assert len(ours_grads) == len(ref_grads)
    for a, b in zip(ours_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_output_shapes_and_parameter_names_follow_torch(kind):
    torch.manual_seed(0)
    reference = TORCH[kind](3, 4, num_layers=2, batch_first=True)
    ours = OURS[kind](3, 4, num_layers=2, batch_first=True)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    for (_, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters(), strict=True):
        assert a.shape == b.shape
        assert a.abs().max() <= 1 / 4**0.5  # PyTorch's uniform(-1/sqrt(H), 1/sqrt(H))
    x = torch.randn(5, 7, 3)
    out, state = ours(x)
    ref_out, ref_state = reference(x)
    assert out.shape == ref_out.shape == (5, 7, 4)
    if kind == "lstm":
        assert [s.shape for s in state] == [s.shape for s in ref_state]
    else:
        assert state.shape == ref_state.shape == (2, 5, 4)


def test_float32_and_from_torch_copies_the_weights():
    torch.manual_seed(1)
    reference = nn.LSTM(4, 6, batch_first=True)
    ours = LSTM.from_torch(reference)
    x = torch.randn(2, 9, 4)
    torch.testing.assert_close(ours(x)[0], reference(x)[0])
    with torch.no_grad():
        ours.weight_hh_l0.zero_()
    assert reference.weight_hh_l0.abs().sum() > 0  # a copy, not shared tensors


def _cell_grads(fn, leaves):
    out = fn()
    out = torch.cat([o.flatten() for o in out]) if isinstance(out, tuple) else out.flatten()
    upstream = torch.linspace(-1, 1, out.numel(), dtype=out.dtype)
    return [out, *torch.autograd.grad((out * upstream).sum(), leaves)]


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["rnn_tanh", "rnn_relu", "lstm", "gru"]),
    n=st.integers(1, 4),
    i=st.integers(1, 5),
    h=st.integers(1, 5),
    bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_cells_match_torch(kind, n, i, h, bias, seed):
    torch.manual_seed(seed)
    if kind.startswith("rnn"):
        cell = nn.RNNCell(i, h, bias=bias, nonlinearity=kind[4:]).double()
    else:
        cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](i, h, bias=bias).double()
    x = torch.randn(n, i, dtype=torch.float64, requires_grad=True)
    hx = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    cx = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    weights = [cell.weight_ih, cell.weight_hh]
    biases = [cell.bias_ih, cell.bias_hh] if bias else [None, None]
    params = weights + [b for b in biases if b is not None]
    if kind == "lstm":
        leaves = [x, hx, cx, *params]
        ours = _cell_grads(lambda: lstm_cell(x, hx, cx, *weights, *biases), leaves)
        ref = _cell_grads(lambda: cell(x, (hx, cx)), leaves)
    else:
        leaves = [x, hx, *params]
        if kind == "gru":
            ours = _cell_grads(lambda: gru_cell(x, hx, *weights, *biases), leaves)
        else:
            ours = _cell_grads(
                lambda: rnn_cell(x, hx, *weights, *biases, nonlinearity=kind[4:]), leaves
            )
        ref = _cell_grads(lambda: cell(x, hx), leaves)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


def test_lstm_gate_order_is_i_f_g_o():
    # Only the forget gate open (+large), everything else shut: c is kept exactly, nothing added.
    h = 3
    w_ih, w_hh = torch.zeros(4 * h, 2), torch.zeros(4 * h, h)
    b = torch.full((4 * h,), -30.0)
    b[h : 2 * h] = 30.0
    c = torch.randn(2, h)
    _, c_next = lstm_cell(torch.randn(2, 2), torch.randn(2, h), c, w_ih, w_hh, b)
    torch.testing.assert_close(c_next, c)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            ("x", (2, 3), "h", (2, 4), "w_ih", (4, 5), "w_hh", (4, 4)),
            ValueError,
            r"w_ih.*\(4, 3\).*\(4, 5\)",
        ),
        (("x", (2, 3), "h", (3, 4), "w_ih", (4, 3), "w_hh", (4, 4)), ValueError, r"h.*\(2, 4\)"),
        (("x", (3,), "h", (1, 4), "w_ih", (4, 3), "w_hh", (4, 4)), ValueError, r"x.*2-D.*1-D"),
        (("x", (2, 3), "h", (2, 4), "w_ih", (4, 3), "w_hh", (4, 5)), ValueError, r"w_hh.*\(4, 5\)"),
    ],
)
def test_rnn_cell_rejects_bad_shapes(args, error, message):
    shapes = dict(zip(args[::2], args[1::2], strict=True))
    tensors = {k: torch.zeros(v) for k, v in shapes.items()}
    with pytest.raises(error, match=message):
        rnn_cell(tensors["x"], tensors["h"], tensors["w_ih"], tensors["w_hh"])


def test_cell_errors_name_the_gates_and_biases():
    x, h = torch.zeros(2, 3), torch.zeros(2, 4)
    with pytest.raises(ValueError, match=r"i, f, g, o"):
        lstm_cell(x, h, h, torch.zeros(16, 3), torch.zeros(12, 4))
    with pytest.raises(ValueError, match=r"r, z, n"):
        gru_cell(x, h, torch.zeros(12, 3), torch.zeros(8, 4))
    with pytest.raises(ValueError, match=r"b_hh.*\(16,\).*\(4,\)"):
        lstm_cell(x, h, h, torch.zeros(16, 3), torch.zeros(16, 4), None, torch.zeros(4))
    with pytest.raises(TypeError, match=r"x.*torch\.Tensor.*list"):
        rnn_cell([[0.0]], h, torch.zeros(4, 1), torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"nonlinearity.*tanh.*relu.*sigmoid"):
        rnn_cell(x, h, torch.zeros(4, 3), torch.zeros(4, 4), nonlinearity="sigmoid")


@pytest.mark.parametrize(
    ("module", "x", "state", "error", "message"),
    [
        (RNN(3, 4), torch.zeros(2, 5, 2), None, ValueError, r"input.*3.*\(2, 5, 2\)"),
        (RNN(3, 4), torch.zeros(2, 5, 3, 1), None, ValueError, r"input.*\(N, T, input_size\).*4-D"),
        (
            RNN(3, 4, batch_first=False),
            torch.zeros(5),
            None,
            ValueError,
            r"input.*\(T, N, input_size\).*1-D",
        ),
        (RNN(3, 4), torch.zeros(2, 0, 3), None, ValueError, r"input.*\(2, 0, 3\)"),
        (
            RNN(3, 4),
            torch.zeros(2, 5, 3, dtype=torch.long),
            None,
            TypeError,
            "input.*int64.*embedding",
        ),
        (
            RNN(3, 4, num_layers=2),
            torch.zeros(2, 5, 3),
            torch.zeros(1, 2, 4),
            ValueError,
            r"h_0.*\(2, 2, 4\).*\(1, 2, 4\)",
        ),
        (
            GRU(3, 4),
            torch.zeros(5, 3),
            torch.zeros(1, 2, 4),
            ValueError,
            r"h_0.*\(1, 4\).*\(1, 2, 4\)",
        ),
        (
            LSTM(3, 4),
            torch.zeros(2, 5, 3),
            torch.zeros(1, 2, 4),
            TypeError,
            r"state.*\(h_0, c_0\).*tensor of shape \(1, 2, 4\)",
        ),
        (
            LSTM(3, 4),
            torch.zeros(2, 5, 3),
            (torch.zeros(1, 2, 4), torch.zeros(1, 3, 4)),
            ValueError,
            r"c_0.*\(1, 2, 4\).*\(1, 3, 4\)",
        ),
        (RNN(3, 4), [[0.0]], None, TypeError, r"input.*torch\.Tensor.*list"),
    ],
)
def test_layers_reject_bad_input(module, x, state, error, message):
    with pytest.raises(error, match=message):
        module(x, state)


def test_constructor_and_from_torch_errors():
    with pytest.raises(ValueError, match="hidden_size.*>= 1.*got 0"):
        RNN(3, 0)
    with pytest.raises(TypeError, match="num_layers.*int.*1.5"):
        LSTM(3, 4, num_layers=1.5)
    with pytest.raises(ValueError, match="nonlinearity.*sigmoid"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match=r"LSTM.from_torch.*torch.nn.LSTM.*GRU"):
        LSTM.from_torch(nn.GRU(3, 4))
    with pytest.raises(ValueError, match="module.*bidirectional=False.*True"):
        GRU.from_torch(nn.GRU(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match="module.*proj_size=0.*got 2"):
        LSTM.from_torch(nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(ValueError, match="module.*dropout.*got 0.5"):
        RNN.from_torch(nn.RNN(3, 4, num_layers=2, dropout=0.5))
