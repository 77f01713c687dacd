"""Recurrent networks from scratch, exactly as ``torch.nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` compute.

A recurrent layer reads a sequence ``x_1 .. x_T`` one step at a time and carries a hidden state
``h_t`` from each step to the next, with the *same* weights at every step. For an input of
``I`` features and a hidden state of ``H`` numbers, with the batch first (``x_t`` is ``(N, I)``,
``h_t`` is ``(N, H)``):

* vanilla RNN (Elman): ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``;
* LSTM: four gates from one matrix product, in PyTorch's order ``i, f, g, o`` (input gate,
  forget gate, cell candidate, output gate), then
  ``c_t = f_t * c_{t-1} + i_t * g_t`` and ``h_t = o_t * tanh(c_t)``;
* GRU: three blocks in PyTorch's order ``r, z, n`` (reset gate, update gate, candidate), with
  ``n_t = tanh(x_t W_in^T + b_in + r_t * (h_{t-1} W_hn^T + b_hn))`` and
  ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``.

The ``*_cell`` functions compute one step. The modules ``RNN``, ``LSTM`` and ``GRU`` unroll a cell
over time and stack layers; their parameters carry PyTorch's names (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ...) and shapes, so ``from_torch`` copies a
``torch.nn`` layer by its ``state_dict`` and both then compute the same outputs and gradients.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "SequenceClassifier",
    "gru_cell",
    "lstm_cell",
    "memory_task",
    "rnn_cell",
]


# ---------------------------------------------------------------------------------------------
# One step


def _check_cell_args(
    gates: int,
    x: Tensor,
    states: dict[str, Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
) -> None:
    """Validate one step: ``x`` (N, I), states (N, H), weights (gates*H, I) and (gates*H, H)."""
    named = {"x": x, **states, "w_ih": w_ih, "w_hh": w_hh}
    for name, value in named.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if value.dim() != 2:
            raise ValueError(
                f"{name} must be 2-D, got {value.dim()}-D of shape {tuple(value.shape)}"
            )
    n, i = x.shape
    if w_hh.shape[1] * gates != w_hh.shape[0]:
        raise ValueError(
            f"w_hh must have shape ({gates}*H, H), got {tuple(w_hh.shape)}"
            + (" (LSTM gates i, f, g, o are stacked along dim 0)" if gates == 4 else "")
            + (" (GRU blocks r, z, n are stacked along dim 0)" if gates == 3 else "")
        )
    h = w_hh.shape[1]
    if tuple(w_ih.shape) != (gates * h, i):
        raise ValueError(
            f"w_ih must have shape ({gates * h}, {i}) for {i} input features and hidden size {h}, "
            f"got {tuple(w_ih.shape)}"
        )
    for name, state in states.items():
        if tuple(state.shape) != (n, h):
            raise ValueError(
                f"{name} must have shape ({n}, {h}) (batch, hidden_size), got {tuple(state.shape)}"
            )
    for name, bias in (("b_ih", b_ih), ("b_hh", b_hh)):
        if bias is None:
            continue
        if not isinstance(bias, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor or None, got {type(bias).__name__}")
        if tuple(bias.shape) != (gates * h,):
            raise ValueError(f"{name} must have shape ({gates * h},), got {tuple(bias.shape)}")


def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """``x @ w.T + b`` (``b`` optional)."""
    out = x @ w.T
    return out if b is None else out + b


def rnn_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """One step of a vanilla (Elman) RNN, as ``nn.RNNCell``.

    ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ``relu`` with ``nonlinearity="relu"``).

    Shapes: ``x`` ``(N, I)``, ``h`` ``(N, H)``, ``w_ih`` ``(H, I)``, ``w_hh`` ``(H, H)``,
    biases ``(H,)``. Returns ``h'`` of shape ``(N, H)``.
    """
    _check_cell_args(1, x, {"h": h}, w_ih, w_hh, b_ih, b_hh)
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    pre = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_cell(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One step of an LSTM, as ``nn.LSTMCell``; returns ``(h', c')``.

    ``[i, f, g, o] = x W_ih^T + b_ih + h W_hh^T + b_hh``, split into four blocks of ``H`` in
    PyTorch's order (input gate, forget gate, cell candidate, output gate); then
    ``i, f, o = sigmoid(.)``, ``g = tanh(.)``, ``c' = f * c + i * g``, ``h' = o * tanh(c')``.

    Shapes: ``x`` ``(N, I)``; ``h``, ``c`` ``(N, H)``; ``w_ih`` ``(4H, I)``; ``w_hh`` ``(4H, H)``;
    biases ``(4H,)``.
    """
    _check_cell_args(4, x, {"h": h, "c": c}, w_ih, w_hh, b_ih, b_hh)
    gates = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g  # keep a fraction f of the old memory, write a fraction i of g
    h_next = o * torch.tanh(c_next)
    return h_next, c_next


def gru_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    """One step of a GRU, as ``nn.GRUCell``.

    With the blocks of ``W_ih``, ``W_hh`` and the biases in PyTorch's order ``r, z, n``::

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
        z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
        h' = (1 - z) * n + z * h

    Shapes: ``x`` ``(N, I)``, ``h`` ``(N, H)``, ``w_ih`` ``(3H, I)``, ``w_hh`` ``(3H, H)``,
    biases ``(3H,)``. Returns ``h'`` ``(N, H)``.
    """
    _check_cell_args(3, x, {"h": h}, w_ih, w_hh, b_ih, b_hh)
    x_r, x_z, x_n = _affine(x, w_ih, b_ih).chunk(3, dim=1)
    h_r, h_z, h_n = _affine(h, w_hh, b_hh).chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)  # the reset gate scales the hidden part, bias included
    return (1 - z) * n + z * h


# ---------------------------------------------------------------------------------------------
# Layers unrolled over time


class _Recurrent(nn.Module):
    """Shared machinery: parameters named as in ``torch.nn``, input checks, layers over time."""

    GATES = 1
    TORCH_CLASS: type[nn.RNNBase] = nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.batch_first = bool(batch_first)
        self.bias = bool(bias)
        rows = self.GATES * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size
            self.register_parameter(
                f"weight_ih_l{layer}", nn.Parameter(torch.empty(rows, layer_input))
            )
            self.register_parameter(
                f"weight_hh_l{layer}", nn.Parameter(torch.empty(rows, hidden_size))
            )
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(rows)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(rows)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialization: every parameter uniform in ``(-1/sqrt(H), 1/sqrt(H))``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"batch_first={self.batch_first}, bias={self.bias}"
        )

    def layer_weights(self, layer: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(w_ih, w_hh, b_ih, b_hh)`` of one layer (the biases are ``None`` without bias)."""
        get = lambda name: getattr(self, f"{name}_l{layer}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    @classmethod
    def from_torch(cls, module: nn.Module) -> _Recurrent:
        """A copy of a ``torch.nn`` layer of the matching kind: same settings, same weights.

        The copy has its own parameters (on the module's device and dtype), equal in value.
        Bidirectional layers, projections (``proj_size``) and inter-layer dropout are not
        supported and raise ``ValueError``.
        """
        if type(module) is not cls.TORCH_CLASS:
            raise TypeError(
                f"{cls.__name__}.from_torch expects a torch.nn.{cls.TORCH_CLASS.__name__}, "
                f"got {type(module).__name__}"
            )
        if module.bidirectional:
            raise ValueError("bidirectional layers are not supported")
        if getattr(module, "proj_size", 0):
            raise ValueError("LSTM projections (proj_size > 0) are not supported")
        if module.dropout:
            raise ValueError("dropout between layers is not supported")
        kwargs = {}
        if cls.TORCH_CLASS is nn.RNN:
            kwargs["nonlinearity"] = module.nonlinearity
        ours = cls(
            module.input_size,
            module.hidden_size,
            module.num_layers,
            batch_first=module.batch_first,
            bias=module.bias,
            **kwargs,
        )
        reference = next(module.parameters())
        ours.to(device=reference.device, dtype=reference.dtype)
        ours.load_state_dict(module.state_dict())
        return ours

    # -- input checks -------------------------------------------------------------------------

    def _prepare_input(self, x: Tensor) -> tuple[Tensor, bool]:
        """The input as ``(T, N, I)`` (time first, as the loop wants) and whether it was batched."""
        if not isinstance(x, Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"input must be a floating-point tensor, got {x.dtype}; token ids go through an "
                "embedding (nn.Embedding) first"
            )
        layout = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        if x.dim() not in (2, 3):
            raise ValueError(
                f"expected a 3-D input {layout} or a 2-D unbatched input (T, input_size), "
                f"got {x.dim()}-D input of shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input with {self.input_size} features (input_size={self.input_size}) "
                f"in the last dimension, got input of shape {tuple(x.shape)}"
            )
        batched = x.dim() == 3
        shape = tuple(x.shape)
        if not batched:
            x = x.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (T, N, I)
        if x.shape[0] == 0:
            raise ValueError(f"the sequences are empty (length 0): input of shape {shape}")
        if x.shape[1] == 0:
            raise ValueError(f"the batch is empty (0 sequences): input of shape {shape}")
        return x, batched

    def _prepare_state(self, state: Any, name: str, n: int, batched: bool, like: Tensor) -> Tensor:
        """A state ``(num_layers, N, H)``; zeros when ``state`` is None."""
        expected = (self.num_layers, n, self.hidden_size) if batched else None
        if state is None:
            return like.new_zeros(self.num_layers, n, self.hidden_size)
        if not isinstance(state, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor or None, got {type(state).__name__}")
        if not batched:
            if tuple(state.shape) != (self.num_layers, self.hidden_size):
                raise ValueError(
                    f"for an unbatched input, {name} must have shape "
                    f"({self.num_layers}, {self.hidden_size}) (num_layers, hidden_size), "
                    f"got {tuple(state.shape)}"
                )
            return state.unsqueeze(1)
        if tuple(state.shape) != expected:
            raise ValueError(
                f"{name} must have shape {expected} (num_layers, batch, hidden_size), "
                f"got {tuple(state.shape)}"
            )
        return state

    def _finish(self, outputs: Tensor, batched: bool) -> Tensor:
        """``(T, N, H)`` back to the caller's layout."""
        if not batched:
            return outputs.squeeze(1)
        return outputs.transpose(0, 1) if self.batch_first else outputs


class RNN(_Recurrent):
    """A stack of vanilla RNN layers, like ``nn.RNN``.

    ``forward(x, state=None)`` takes ``x`` of shape ``(N, T, I)`` (``(T, N, I)`` with
    ``batch_first=False``; ``(T, I)`` unbatched) and an optional initial state ``h_0`` of shape
    ``(num_layers, N, H)``, and returns ``(output, h_n)``: the last layer's hidden state at every
    step, ``(N, T, H)``, and every layer's final state, ``(num_layers, N, H)``. Layer ``l > 0``
    reads the outputs of layer ``l - 1``.
    """

    GATES = 1
    TORCH_CLASS = nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        bias: bool = True,
        nonlinearity: str = "tanh",
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, batch_first, bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(output, h_n)`` as ``nn.RNN`` returns them (see the class docstring)."""
        x, batched = self._prepare_input(x)
        h0 = self._prepare_state(state, "h_0", x.shape[1], batched, x)
        finals = []
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer)
            h, steps = h0[layer], []
            for x_t in x:  # x is (T, N, features): one step at a time
                h = rnn_cell(x_t, h, w_ih, w_hh, b_ih, b_hh, self.nonlinearity)
                steps.append(h)
            x = torch.stack(steps)  # this layer's outputs are the next layer's inputs
            finals.append(h)
        h_n = torch.stack(finals)
        return self._finish(x, batched), (h_n if batched else h_n.squeeze(1))


class LSTM(_Recurrent):
    """A stack of LSTM layers, like ``nn.LSTM`` (gate order ``i, f, g, o``).

    ``forward(x, state=None)``: ``x`` as for ``RNN``; ``state`` is ``None`` or a pair
    ``(h_0, c_0)``, each ``(num_layers, N, H)``. Returns ``(output, (h_n, c_n))``.
    """

    GATES = 4
    TORCH_CLASS = nn.LSTM

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``(output, (h_n, c_n))`` as ``nn.LSTM`` returns them."""
        x, batched = self._prepare_input(x)
        if state is None:
            state = (None, None)
        elif not isinstance(state, tuple | list) or len(state) != 2:
            raise TypeError(
                "the LSTM state must be a pair (h_0, c_0) of tensors, "
                f"got {type(state).__name__}"
                + (f" of shape {tuple(state.shape)}" if isinstance(state, Tensor) else "")
            )
        h0 = self._prepare_state(state[0], "h_0", x.shape[1], batched, x)
        c0 = self._prepare_state(state[1], "c_0", x.shape[1], batched, x)
        h_finals, c_finals = [], []
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer)
            h, c, steps = h0[layer], c0[layer], []
            for x_t in x:
                h, c = lstm_cell(x_t, h, c, w_ih, w_hh, b_ih, b_hh)
                steps.append(h)
            x = torch.stack(steps)
            h_finals.append(h)
            c_finals.append(c)
        h_n, c_n = torch.stack(h_finals), torch.stack(c_finals)
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._finish(x, batched), (h_n, c_n)


class GRU(_Recurrent):
    """A stack of GRU layers, like ``nn.GRU`` (block order ``r, z, n``).

    ``forward(x, state=None)`` has the signature and return value of ``RNN.forward``.
    """

    GATES = 3
    TORCH_CLASS = nn.GRU

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(output, h_n)`` as ``nn.GRU`` returns them."""
        x, batched = self._prepare_input(x)
        h0 = self._prepare_state(state, "h_0", x.shape[1], batched, x)
        finals = []
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer)
            h, steps = h0[layer], []
            for x_t in x:
                h = gru_cell(x_t, h, w_ih, w_hh, b_ih, b_hh)
                steps.append(h)
            x = torch.stack(steps)
            finals.append(h)
        h_n = torch.stack(finals)
        return self._finish(x, batched), (h_n if batched else h_n.squeeze(1))


# ---------------------------------------------------------------------------------------------
# A task that needs memory


def memory_task(
    n: int,
    length: int,
    num_classes: int = 4,
    noise: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sequences whose label is shown at the first step only, followed by noise.

    Returns ``(x, labels)``: ``x`` of shape ``(n, length, num_classes + 1)`` and ``labels`` of
    shape ``(n,)`` (int64 in ``0 .. num_classes - 1``). Step 0 of sequence ``k`` is the one-hot
    vector of ``labels[k]`` with the last feature (a marker) set to 1; every later step is
    Gaussian noise of standard deviation ``noise`` in the first ``num_classes`` features, marker 0.
    A model that reads the whole sequence and answers at the end must carry the first step
    across ``length - 1`` noisy steps; guessing gives ``1 / num_classes``. Deterministic given
    ``generator``.
    """
    for name, value, minimum in (
        ("n", n, 1),
        ("length", length, 1),
        ("num_classes", num_classes, 2),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if not isinstance(noise, int | float) or isinstance(noise, bool) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    labels = torch.randint(0, num_classes, (n,), generator=generator)
    x = noise * torch.randn(n, length, num_classes + 1, generator=generator)
    x[:, :, num_classes] = 0.0
    x[:, 0] = torch.nn.functional.one_hot(labels, num_classes + 1).float()
    x[:, 0, num_classes] = 1.0
    return x, labels


class SequenceClassifier(nn.Module):
    """A recurrent layer followed by a linear head on its output at the last step.

    ``recurrent`` is any module called as ``recurrent(x)`` that returns ``(output, state)`` with
    ``output`` of shape ``(N, T, hidden_size)`` (batch first): ``RNN``, ``LSTM``, ``GRU`` here
    or their ``torch.nn`` counterparts. ``forward(x)`` returns logits ``(N, num_classes)``.
    """

    def __init__(self, recurrent: nn.Module, hidden_size: int, num_classes: int) -> None:
        super().__init__()
        if getattr(recurrent, "batch_first", True) is not True:
            raise ValueError("the recurrent layer must be batch_first=True")
        self.recurrent = recurrent
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``(N, T, I)`` -> logits ``(N, num_classes)`` from the last step's output."""
        output, _ = self.recurrent(x)
        return self.head(output[:, -1])
