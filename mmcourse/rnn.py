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

from mmcourse.validate import check_choice, check_int, check_shape, check_tensor, describe

__all__ = ["GRU", "LSTM", "RNN", "gru_cell", "lstm_cell", "rnn_cell"]


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
    for name, value in {"x": x, **states, "w_ih": w_ih, "w_hh": w_hh}.items():
        check_tensor(value, name, 2)
    n, i = x.shape
    if w_hh.shape[1] * gates != w_hh.shape[0]:
        raise ValueError(
            f"w_hh must have shape ({gates}*H, H), got {tuple(w_hh.shape)}"
            + (" (LSTM gates i, f, g, o are stacked along dim 0)" if gates == 4 else "")
            + (" (GRU blocks r, z, n are stacked along dim 0)" if gates == 3 else "")
        )
    h = w_hh.shape[1]
    check_shape(w_ih, "w_ih", (gates * h, i))  # (gates * hidden_size, input features)
    for name, state in states.items():
        check_shape(state, name, (n, h))  # (batch, hidden_size)
    for name, bias in (("b_ih", b_ih), ("b_hh", b_hh)):
        if bias is not None:
            check_shape(check_tensor(bias, name), name, (gates * h,))


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
    check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
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
        input_size = check_int(input_size, "input_size", 1)
        hidden_size = check_int(hidden_size, "hidden_size", 1)
        num_layers = check_int(num_layers, "num_layers", 1)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
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
            raise ValueError("module must be unidirectional (bidirectional=False), got True")
        if getattr(module, "proj_size", 0):
            raise ValueError(
                f"module must have no projection (proj_size=0), got {module.proj_size}"
            )
        if module.dropout:
            raise ValueError(f"module must have no dropout between layers, got {module.dropout}")
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
        check_tensor(x, "input")
        if not x.is_floating_point():
            raise TypeError(
                f"input must be a floating-point tensor, got dtype {x.dtype}; token ids go through "
                "an embedding (nn.Embedding) first"
            )
        layout = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        if x.dim() not in (2, 3):
            raise ValueError(
                f"input must be a 3-D tensor {layout} or a 2-D unbatched one (T, input_size), "
                f"got a {x.dim()}-D tensor of shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"input must have input_size = {self.input_size} features in its last dimension, "
                f"got shape {tuple(x.shape)}"
            )
        batched = x.dim() == 3
        shape = tuple(x.shape)
        if not batched:
            x = x.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (T, N, I)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(
                f"input must hold at least one step of one sequence, got shape {shape}"
            )
        return x, batched

    def _prepare_state(self, state: Any, name: str, n: int, batched: bool, like: Tensor) -> Tensor:
        """A state ``(num_layers, N, H)``; zeros when ``state`` is None."""
        if state is None:
            return like.new_zeros(self.num_layers, n, self.hidden_size)
        check_tensor(state, name)
        if not batched:  # (num_layers, hidden_size) for an unbatched input
            return check_shape(state, name, (self.num_layers, self.hidden_size)).unsqueeze(1)
        return check_shape(state, name, (self.num_layers, n, self.hidden_size))

    def _finish(self, outputs: Tensor, batched: bool) -> Tensor:
        """``(T, N, H)`` back to the caller's layout."""
        if not batched:
            return outputs.squeeze(1)
        return outputs.transpose(0, 1) if self.batch_first else outputs

    # -- the loop over layers and time --------------------------------------------------------

    STATES = ("h_0",)  # the names of the tensors the layer carries from step to step

    def step(
        self, x_t: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        """One step of one layer: the next state from ``x_t`` ``(N, I)``; ``state[0]`` is h."""
        raise NotImplementedError

    def _initial_states(self, state: Any) -> tuple[Any, ...]:
        """The caller's ``state`` as one entry (a tensor or None) per name in ``STATES``."""
        return (state,)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """``(output, final state)`` as the ``torch.nn`` layer returns them.

        For each layer ``l`` and each step ``t``: ``state = step(x_t, state)``, and the layer's
        outputs ``h_1 .. h_T`` are the next layer's inputs. Returns the last layer's outputs
        ``(N, T, H)`` and every layer's final state ``(num_layers, N, H)`` (for the LSTM the
        pair ``(h_n, c_n)``).
        """
        x, batched = self._prepare_input(x)
        given = self._initial_states(state)
        states = [
            self._prepare_state(s, name, x.shape[1], batched, x)
            for s, name in zip(given, self.STATES, strict=True)
        ]
        finals = []
        for layer in range(self.num_layers):
            weights = self.layer_weights(layer)
            state, outputs = tuple(s[layer] for s in states), []
            for x_t in x:  # x is (T, N, features): one step at a time
                state = self.step(x_t, state, weights)
                outputs.append(state[0])  # the hidden state h is the output
            x = torch.stack(outputs)  # this layer's outputs are the next layer's inputs
            finals.append(state)
        final = [torch.stack(parts) for parts in zip(*finals, strict=True)]  # (layers, N, H)
        if not batched:
            final = [f.squeeze(1) for f in final]
        return self._finish(x, batched), final[0] if len(final) == 1 else tuple(final)


class RNN(_Recurrent):
    """A stack of vanilla RNN layers, like ``nn.RNN``.

    ``forward(x, state=None)`` takes ``x`` of shape ``(N, T, I)`` (``(T, N, I)`` with
    ``batch_first=False``; ``(T, I)`` unbatched) and an optional initial state ``h_0`` of shape
    ``(num_layers, N, H)``, and returns ``(output, h_n)``: the last layer's hidden state at every
    step, ``(N, T, H)``, and every layer's final state, ``(num_layers, N, H)``. Layer ``l > 0``
    reads the outputs of layer ``l - 1``. Each step is ``rnn_cell``.
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
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers, batch_first, bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"

    def step(
        self, x_t: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        """``(h',)`` with ``h' = rnn_cell(x_t, h, ...)``."""
        return (rnn_cell(x_t, *state, *weights, self.nonlinearity),)


class LSTM(_Recurrent):
    """A stack of LSTM layers, like ``nn.LSTM`` (gate order ``i, f, g, o``).

    ``forward(x, state=None)``: ``x`` as for ``RNN``; ``state`` is ``None`` or a pair
    ``(h_0, c_0)``, each ``(num_layers, N, H)``. Returns ``(output, (h_n, c_n))``. Each step is
    ``lstm_cell``.
    """

    GATES = 4
    TORCH_CLASS = nn.LSTM
    STATES = ("h_0", "c_0")

    def _initial_states(self, state: Any) -> tuple[Any, ...]:
        if state is None:
            return (None, None)
        if not isinstance(state, tuple | list) or len(state) != 2:
            raise TypeError(
                f"state must be a pair (h_0, c_0) of tensors for an LSTM, got {describe(state)}"
            )
        return tuple(state)

    def step(
        self, x_t: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        """``(h', c') = lstm_cell(x_t, h, c, ...)``."""
        return lstm_cell(x_t, *state, *weights)


class GRU(_Recurrent):
    """A stack of GRU layers, like ``nn.GRU`` (block order ``r, z, n``).

    ``forward(x, state=None)`` has the signature and return value of ``RNN.forward``. Each step
    is ``gru_cell``.
    """

    GATES = 3
    TORCH_CLASS = nn.GRU

    def step(
        self, x_t: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        """``(h',)`` with ``h' = gru_cell(x_t, h, ...)``."""
        return (gru_cell(x_t, *state, *weights),)
