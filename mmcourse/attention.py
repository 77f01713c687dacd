"""Attention and the Transformer encoder from scratch, exactly as PyTorch computes them.

Scaled dot-product attention (Vaswani et al. 2017) mixes the values ``V`` with weights that say
how well each query matches each key::

    Attention(Q, K, V) = softmax(Q K^T * scale + mask) V,    scale = 1 / sqrt(E)

with ``Q`` of shape ``(..., L, E)`` (``L`` queries), ``K`` ``(..., S, E)`` and ``V``
``(..., S, Ev)`` (``S`` keys and values); the result is ``(..., L, Ev)``. Everything else here is
built on it:

* ``scaled_dot_product_attention`` and ``attention_weights``, equal to
  ``torch.nn.functional.scaled_dot_product_attention``;
* ``split_heads`` / ``merge_heads`` and ``MultiheadAttention`` (``nn.MultiheadAttention``);
* ``TransformerEncoderLayer`` (pre-norm or post-norm) and ``TransformerEncoder``;
* positions: ``sinusoidal_positions`` with ``SinusoidalPositionalEncoding``, and
  ``LearnedPositionalEmbedding``;
* tokenizers: ``patchify`` and ``PatchEmbedding`` for images (ViT), ``frame_tokens`` and
  ``FrameEmbedding`` for log-mel spectrograms (AST-style), ``WordEmbedding`` for token ids with
  their padding mask, and ``causal_mask``;
* ``MultimodalTransformer``: the tokens of every modality in one sequence, with modality-type
  embeddings, a classification token and missing modalities masked out (chapter 9).

Every module is batch-first, and its parameters carry PyTorch's names and shapes, so
``from_torch`` copies a ``torch.nn`` module by its ``state_dict``.

**Two mask conventions.** ``scaled_dot_product_attention`` follows
``torch.nn.functional.scaled_dot_product_attention``: a boolean ``attn_mask`` is ``True`` where a
query *may* attend. ``MultiheadAttention`` and the encoder follow ``nn.MultiheadAttention``: a
boolean ``attn_mask`` or ``key_padding_mask`` is ``True`` where attention is *forbidden*. A float
mask is added to the scores in both (``0`` keeps, ``-inf`` forbids), so ``causal_mask`` (a float
mask) means the same everywhere.

**A query that may attend to no key** (its row of the mask forbids every key) gets weights of
zero and an output of zero, with zero gradients, as PyTorch's ``scaled_dot_product_attention``
does (a plain softmax would give ``0 / 0 = nan``). ``nn.MultiheadAttention`` gives that zero too
with ``need_weights=False``, but ``nan`` with ``need_weights=True``; ours gives zero in both.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmcourse.validate import (
    check_bool,
    check_int,
    check_number,
    check_pair,
    check_tensor,
    describe,
)

__all__ = [
    "FrameEmbedding",
    "LearnedPositionalEmbedding",
    "MultiheadAttention",
    "MultimodalTransformer",
    "PatchEmbedding",
    "SinusoidalPositionalEncoding",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "WordEmbedding",
    "attention_weights",
    "causal_mask",
    "frame_tokens",
    "merge_heads",
    "patchify",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
    "split_heads",
]


# ---------------------------------------------------------------------------------------------
# Argument checks


def _check_probability(value: Any, name: str) -> float:
    """A dropout probability in ``[0, 1]``."""
    value = check_number(value, name, 0.0)
    if value > 1:
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value}")
    return value


def _check_mask_dtype(mask: Any, name: str) -> Tensor:
    """A mask must be a bool or floating-point tensor (the dtype says what it means)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {describe(mask)}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise ValueError(
            f"{name} must be a bool or floating-point tensor, got dtype {mask.dtype} "
            f"(shape {tuple(mask.shape)})"
        )
    return mask


def _check_qkv(query: Any, key: Any, value: Any) -> tuple[int, ...]:
    """Validate ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``; return the batch shape."""
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        check_tensor(tensor, name, floating=True)
        if tensor.dim() < 2:
            raise ValueError(
                f"{name} must have at least 2 dimensions (..., length, features), got shape "
                f"{tuple(tensor.shape)}"
            )
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"query, key and value must have the same dtype, got {query.dtype}, {key.dtype} "
            f"and {value.dtype}"
        )
    shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"query and key must have the same number of features E in the last dimension, "
            f"got {shapes}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"key and value must have the same length S (dim -2), got {shapes}")
    try:
        return tuple(torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2]))
    except RuntimeError:
        raise ValueError(
            f"the batch dimensions (all but the last two) of query, key and value must "
            f"broadcast, got {shapes}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Scaled dot-product attention


def causal_mask(
    length: int,
    source_length: int | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The float causal mask ``(L, S)``: ``0`` where ``j <= i``, ``-inf`` where ``j > i``.

    Query ``i`` may attend to keys ``0 .. i`` only (aligned at the top left, as ``is_causal=True``
    of ``scaled_dot_product_attention`` does when ``L != S``). ``S`` defaults to ``L``; for
    ``L == S`` this is ``nn.Transformer.generate_square_subsequent_mask(L)``. Being a float mask
    it is added to the scores, so it means the same to every function and module here.
    """
    length = check_int(length, "length", 1)
    source_length = length if source_length is None else source_length
    source_length = check_int(source_length, "source_length", 1)
    allowed = torch.ones(length, source_length, dtype=torch.bool, device=device).tril()
    return torch.zeros(length, source_length, dtype=dtype, device=device).masked_fill(
        ~allowed, float("-inf")
    )


def _safe_softmax(scores: Tensor) -> Tensor:
    """``softmax(scores, -1)``, with weights 0 (not nan) on rows whose scores are all ``-inf``.

    The rows are neutralized *before* the softmax so that no nan reaches the backward pass.
    """
    dead = (scores == float("-inf")).all(dim=-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1)
    return weights.masked_fill(dead, 0.0)


def attention_weights(
    query: Tensor,
    key: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """The attention weights ``softmax(Q K^T * scale + mask)``, shape ``(..., L, S)``.

    ``query`` ``(..., L, E)`` and ``key`` ``(..., S, E)``, batch dimensions broadcast;
    ``scale`` defaults to ``1 / sqrt(E)``. ``attn_mask`` broadcasts to ``(..., L, S)``: boolean
    ``True`` where query ``i`` may attend to key ``j`` (``False`` sets the score to ``-inf``), or
    float, added to the scores. ``is_causal=True`` forbids keys ``j > i`` (and excludes
    ``attn_mask``). Each row sums to 1, except a row whose every key is forbidden: all zeros.
    """
    return _attention_weights(query, key, key, attn_mask, is_causal, scale)


def _attention_weights(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None,
    is_causal: bool,
    scale: float | None,
) -> Tensor:
    batch = _check_qkv(query, key, value)
    check_bool(is_causal, "is_causal")
    length, source_length = query.shape[-2], key.shape[-2]
    scores_shape = (*batch, length, source_length)
    if attn_mask is not None:
        _check_mask_dtype(attn_mask, "attn_mask")
        if is_causal:
            raise ValueError("attn_mask must be None when is_causal=True (the mask is built in)")
        try:
            fits = torch.broadcast_shapes(attn_mask.shape, scores_shape) == scores_shape
        except RuntimeError:
            fits = False
        if attn_mask.dim() < 2 or not fits:
            raise ValueError(
                f"attn_mask must broadcast to (..., L, S) = {scores_shape} for query "
                f"{tuple(query.shape)} and key {tuple(key.shape)}, got shape "
                f"{tuple(attn_mask.shape)}"
            )
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    else:
        scale = check_number(scale, "scale")

    scores = query @ key.transpose(-2, -1) * scale  # (..., L, S): how well query i matches key j
    if is_causal:
        attn_mask = causal_mask(length, source_length, dtype=scores.dtype, device=scores.device)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    return _safe_softmax(scores)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(Q K^T * scale + mask) V``, as ``torch.nn.functional.scaled_dot_product_attention``.

    Shapes: ``query`` ``(..., L, E)``, ``key`` ``(..., S, E)``, ``value`` ``(..., S, Ev)``; the
    batch dimensions ``...`` (e.g. batch and heads) broadcast; returns ``(..., L, Ev)``.
    ``scale`` defaults to ``1 / sqrt(E)``, which keeps the scores of unit-variance inputs at unit
    variance. ``attn_mask`` broadcasts to ``(..., L, S)``: boolean, ``True`` where a query *may*
    attend, or float, added to the scores. ``is_causal=True`` lets query ``i`` see keys
    ``0 .. i`` only (top-left aligned when ``L != S``); it excludes ``attn_mask``. ``dropout_p``
    zeroes each weight with that probability and scales the rest by ``1 / (1 - dropout_p)``
    (always, as PyTorch: pass 0 at evaluation). A query whose mask forbids every key gets an
    output of zeros and zero gradients, as in PyTorch.
    """
    dropout_p = _check_probability(dropout_p, "dropout_p")
    weights = _attention_weights(query, key, value, attn_mask, is_causal, scale)  # (..., L, S)
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)
    return weights @ value  # (..., L, Ev): each output is a weighted mean of the values


# ---------------------------------------------------------------------------------------------
# Heads


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``(N, L, E)`` -> ``(N, H, L, E / H)``: the width cut into ``H`` heads of ``E / H``.

    Head ``h`` holds features ``h * E/H .. (h + 1) * E/H - 1`` of every position.
    """
    check_tensor(x, "x", 3)
    num_heads = check_int(num_heads, "num_heads", 1)
    n, length, width = x.shape
    if width % num_heads:
        raise ValueError(
            f"the width E={width} of x (shape {tuple(x.shape)}) must be divisible by "
            f"num_heads={num_heads}"
        )
    return x.reshape(n, length, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """``(N, H, L, D)`` -> ``(N, L, H * D)``, the inverse of ``split_heads``."""
    check_tensor(x, "x", 4)
    n, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(n, length, heads * head_dim)


def _check_batch_first(module: nn.Module, what: str) -> None:
    if not getattr(module, "batch_first", True):
        raise ValueError(
            f"{what} must be batch_first=True (ours is always batch-first), got batch_first=False"
        )


class MultiheadAttention(nn.Module):
    """Multi-head attention, like ``nn.MultiheadAttention(..., batch_first=True)``.

    With ``H`` heads of width ``D = E / H``::

        Q = query W_q^T + b_q,  K = key W_k^T + b_k,  V = value W_v^T + b_v
        head_h = softmax(Q_h K_h^T / sqrt(D) + mask) V_h
        output = concat(head_1 .. head_H) W_o^T + b_o

    ``forward(query, key, value)`` takes ``query`` ``(N, L, E)``, ``key`` ``(N, S, kdim)`` and
    ``value`` ``(N, S, vdim)`` (``kdim`` and ``vdim`` default to ``E``; other widths serve
    cross-attention) and returns ``(output (N, L, E), weights)``. The weights are ``(N, L, S)``
    averaged over heads, ``(N, H, L, S)`` with ``average_attn_weights=False``, ``None`` with
    ``need_weights=False``. Masks follow ``nn.MultiheadAttention``: ``key_padding_mask``
    ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * H, L, S)``, boolean ``True`` where
    attention is *forbidden*, or float, added to the scores. Parameters are named as in PyTorch
    (``in_proj_weight`` ``(3E, E)`` or ``q/k/v_proj_weight``, ``in_proj_bias``, ``out_proj``).
    ``dropout`` drops attention weights in training mode. Not supported: ``add_bias_kv``,
    ``add_zero_attn``, unbatched inputs.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        *,
        kdim: int | None = None,
        vdim: int | None = None,
    ) -> None:
        super().__init__()
        self.embed_dim = check_int(embed_dim, "embed_dim", 1)
        self.num_heads = check_int(num_heads, "num_heads", 1)
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                f"num_heads={num_heads}"
            )
        self.head_dim = embed_dim // num_heads
        self.dropout = _check_probability(dropout, "dropout")
        check_bool(bias, "bias")
        self.kdim = embed_dim if kdim is None else check_int(kdim, "kdim", 1)
        self.vdim = embed_dim if vdim is None else check_int(vdim, "vdim", 1)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:  # one (3E, E) matrix: Q, K, V stacked along dim 0
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialization: Xavier-uniform projections, zero biases."""
        if self._qkv_same_embed_dim:
            nn.init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                nn.init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.embed_dim}, {self.num_heads}, dropout={self.dropout}, "
            f"bias={self.in_proj_bias is not None}, kdim={self.kdim}, vdim={self.vdim}"
        )

    def projection_weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(W_q, W_k, W_v)``, shapes ``(E, E)``, ``(E, kdim)``, ``(E, vdim)``."""
        if self._qkv_same_embed_dim:
            return tuple(self.in_proj_weight.chunk(3))  # type: ignore[return-value]
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiheadAttention:
        """A copy of an ``nn.MultiheadAttention``: same settings, same weights (own tensors).

        The module must be ``batch_first=True``; ``add_bias_kv`` and ``add_zero_attn`` raise
        ``ValueError``.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(
                f"MultiheadAttention.from_torch expects a torch.nn.MultiheadAttention, "
                f"got {type(module).__name__}"
            )
        _check_batch_first(module, "the nn.MultiheadAttention")
        if module.bias_k is not None or module.add_zero_attn:
            raise ValueError("add_bias_kv and add_zero_attn are not supported")
        ours = cls(
            module.embed_dim,
            module.num_heads,
            module.dropout,
            module.in_proj_bias is not None,
            kdim=module.kdim,
            vdim=module.vdim,
        )
        reference = module.out_proj.weight
        ours.to(device=reference.device, dtype=reference.dtype)
        ours.load_state_dict(module.state_dict())
        return ours

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        for name, tensor, width in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            check_tensor(tensor, name, 3, floating=True)
            if tensor.shape[-1] != width:
                raise ValueError(
                    f"{name} must have shape (N, length, {width}), got {tuple(tensor.shape)}"
                )
        if not query.shape[0] == key.shape[0] == value.shape[0]:
            raise ValueError(
                f"query, key and value must have the same batch size N, got query "
                f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        if key.shape[1] != value.shape[1]:
            raise ValueError(
                f"key and value must have the same length S, got key {tuple(key.shape)} and "
                f"value {tuple(value.shape)}"
            )

    def _merged_mask(
        self,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        n: int,
        length: int,
        source_length: int,
        dtype: torch.dtype,
    ) -> Tensor | None:
        """Both masks as one float mask that broadcasts to ``(N, H, L, S)``, or ``None``."""
        heads = self.num_heads

        def as_float(mask: Tensor) -> Tensor:  # bool: True forbids, i.e. -inf
            if mask.dtype == torch.bool:
                return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
                    mask, float("-inf")
                )
            return mask.to(dtype)

        merged = None
        if attn_mask is not None:
            _check_mask_dtype(attn_mask, "attn_mask")
            if tuple(attn_mask.shape) == (length, source_length):
                merged = as_float(attn_mask)
            elif tuple(attn_mask.shape) == (n * heads, length, source_length):
                merged = as_float(attn_mask).reshape(n, heads, length, source_length)
            else:
                raise ValueError(
                    f"attn_mask must have shape (L, S) = {(length, source_length)} or "
                    f"(N * num_heads, L, S) = {(n * heads, length, source_length)}, "
                    f"got {tuple(attn_mask.shape)}"
                )
        if key_padding_mask is not None:
            _check_mask_dtype(key_padding_mask, "key_padding_mask")
            if tuple(key_padding_mask.shape) != (n, source_length):
                raise ValueError(
                    f"key_padding_mask must have shape (N, S) = {(n, source_length)} "
                    f"(batch, key length), got {tuple(key_padding_mask.shape)}"
                )
            padding = as_float(key_padding_mask).reshape(n, 1, 1, source_length)
            merged = padding if merged is None else merged + padding
        return merged

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """``(N, L, E)``, ``(N, S, kdim)``, ``(N, S, vdim)`` -> ``(output (N, L, E), weights)``."""
        self._check_inputs(query, key, value)
        check_bool(need_weights, "need_weights")
        check_bool(average_attn_weights, "average_attn_weights")
        n, length, source_length = query.shape[0], query.shape[1], key.shape[1]
        mask = self._merged_mask(attn_mask, key_padding_mask, n, length, source_length, query.dtype)
        w_q, w_k, w_v = self.projection_weights()
        b_q, b_k, b_v = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        q = split_heads(F.linear(query, w_q, b_q), self.num_heads)  # (N, H, L, D)
        k = split_heads(F.linear(key, w_k, b_k), self.num_heads)  # (N, H, S, D)
        v = split_heads(F.linear(value, w_v, b_v), self.num_heads)  # (N, H, S, D)
        weights = attention_weights(q, k, mask)  # (N, H, L, S)
        weights = F.dropout(weights, self.dropout, self.training)
        output = self.out_proj(merge_heads(weights @ v))  # (N, L, E)
        if not need_weights:
            return output, None
        return output, weights.mean(dim=1) if average_attn_weights else weights


# ---------------------------------------------------------------------------------------------
# The Transformer encoder


def _activation_name(activation: Any) -> str:
    """``"relu"`` or ``"gelu"`` for what ``nn.TransformerEncoderLayer`` stores as activation."""
    if activation in ("relu", F.relu) or type(activation) is nn.ReLU:
        return "relu"
    if activation in ("gelu", F.gelu) or (
        type(activation) is nn.GELU and activation.approximate == "none"
    ):
        return "gelu"
    raise ValueError(f"activation must be 'relu' or 'gelu', got {describe(activation)}")


class TransformerEncoderLayer(nn.Module):
    """One Transformer encoder layer, like ``nn.TransformerEncoderLayer(..., batch_first=True)``.

    Self-attention, then a position-wise feed-forward network ``FF(x) = W_2 act(W_1 x + b_1) +
    b_2`` (``act`` ReLU or GELU, width ``dim_feedforward``), each with a residual connection and
    a layer norm, placed after the residual (post-norm, the original Transformer) or before the
    block (pre-norm, ``norm_first=True``)::

        post-norm: x = LN_1(x + SA(x));    x = LN_2(x + FF(x))
        pre-norm:  x = x + SA(LN_1(x));    x = x + FF(LN_2(x))

    ``forward(src, src_mask=None, src_key_padding_mask=None)`` maps ``(N, L, d_model)`` to
    ``(N, L, d_model)``; the masks are those of ``MultiheadAttention`` (``True`` forbids).
    ``dropout`` acts in training mode on the attention weights, after the activation and on each
    block's output, as in PyTorch. Parameters carry PyTorch's names (``self_attn``, ``linear1``,
    ``linear2``, ``norm1``, ``norm2``).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        d_model = check_int(d_model, "d_model", 1)
        nhead = check_int(nhead, "nhead", 1)
        if d_model % nhead:
            raise ValueError(
                f"d_model must be divisible by nhead, got d_model={d_model} and nhead={nhead}"
            )
        dim_feedforward = check_int(dim_feedforward, "dim_feedforward", 1)
        self.dropout = _check_probability(dropout, "dropout")
        self.activation = _activation_name(activation)
        layer_norm_eps = check_number(layer_norm_eps, "layer_norm_eps", positive=True)
        self.norm_first = check_bool(norm_first, "norm_first")
        check_bool(bias, "bias")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)

    def extra_repr(self) -> str:
        return (
            f"dropout={self.dropout}, activation={self.activation!r}, norm_first={self.norm_first}"
        )

    @classmethod
    def from_torch(cls, module: nn.TransformerEncoderLayer) -> TransformerEncoderLayer:
        """A copy of an ``nn.TransformerEncoderLayer`` (``batch_first=True``, ReLU or GELU)."""
        if not isinstance(module, nn.TransformerEncoderLayer):
            raise TypeError(
                f"TransformerEncoderLayer.from_torch expects a torch.nn.TransformerEncoderLayer, "
                f"got {type(module).__name__}"
            )
        _check_batch_first(module.self_attn, "the nn.TransformerEncoderLayer")
        ours = cls(
            module.linear1.in_features,
            module.self_attn.num_heads,
            module.linear1.out_features,
            module.dropout.p,
            _activation_name(module.activation),
            module.norm1.eps,
            module.norm_first,
            module.linear1.bias is not None,
        )
        reference = module.linear1.weight
        ours.to(device=reference.device, dtype=reference.dtype)
        ours.load_state_dict(module.state_dict())
        return ours

    def _self_attention(self, x: Tensor, mask: Tensor | None, padding: Tensor | None) -> Tensor:
        out, _ = self.self_attn(x, x, x, padding, need_weights=False, attn_mask=mask)
        return F.dropout(out, self.dropout, self.training)

    def _feed_forward(self, x: Tensor) -> Tensor:
        act = F.relu if self.activation == "relu" else F.gelu
        hidden = F.dropout(act(self.linear1(x)), self.dropout, self.training)
        return F.dropout(self.linear2(hidden), self.dropout, self.training)

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """``(N, L, d_model)`` -> ``(N, L, d_model)``."""
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask)
            x = x + self._feed_forward(self.norm2(x))
        else:
            x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask))
            x = self.norm2(x + self._feed_forward(x))
        return x


class TransformerEncoder(nn.Module):
    """A stack of ``num_layers`` encoder layers, like ``nn.TransformerEncoder``.

    As in PyTorch, the layers start as copies of ``encoder_layer`` (same initial weights) and
    ``norm`` (e.g. the final ``nn.LayerNorm`` of a pre-norm stack) is applied after the last.
    ``forward(src, mask=None, src_key_padding_mask=None)``: ``(N, L, d_model)`` ->
    ``(N, L, d_model)``, every layer given the same masks. (In eval mode without gradients,
    PyTorch's post-norm stack with a ``src_key_padding_mask`` runs on nested tensors and returns
    zeros at the padded positions; ours computes them like any other, the rest is equal.)
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(encoder_layer, TransformerEncoderLayer):
            raise TypeError(
                f"encoder_layer must be an mmcourse TransformerEncoderLayer, "
                f"got {type(encoder_layer).__name__}"
            )
        self.num_layers = check_int(num_layers, "num_layers", 1)
        self.layers = nn.ModuleList(copy.deepcopy(encoder_layer) for _ in range(num_layers))
        if norm is not None and not isinstance(norm, nn.Module):
            raise TypeError(f"norm must be an nn.Module or None, got {describe(norm)}")
        self.norm = norm

    @classmethod
    def from_torch(cls, module: nn.TransformerEncoder) -> TransformerEncoder:
        """A copy of an ``nn.TransformerEncoder`` of ``batch_first`` layers (own tensors)."""
        if not isinstance(module, nn.TransformerEncoder):
            raise TypeError(
                f"TransformerEncoder.from_torch expects a torch.nn.TransformerEncoder, "
                f"got {type(module).__name__}"
            )
        layers = [TransformerEncoderLayer.from_torch(layer) for layer in module.layers]
        ours = cls(layers[0], len(layers), copy.deepcopy(module.norm))
        ours.layers = nn.ModuleList(layers)
        return ours

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """``(N, L, d_model)`` -> ``(N, L, d_model)``."""
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask)
        return x if self.norm is None else self.norm(x)


# ---------------------------------------------------------------------------------------------
# Positions


def sinusoidal_positions(
    length: int,
    dim: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The sinusoidal position encoding of Vaswani et al. (2017), shape ``(length, dim)``.

    ``PE[p, 2i] = sin(p / base^(2i / dim))`` and ``PE[p, 2i + 1] = cos(p / base^(2i / dim))``:
    each pair of features is a clock turning at its own speed, from one radian per position
    (``i = 0``) down to ``1 / base``. For an odd ``dim`` the last feature is a sine.
    """
    length = check_int(length, "length", 1)
    dim = check_int(dim, "dim", 1)
    base = check_number(base, "base", positive=True)
    position = torch.arange(length, dtype=torch.float64, device=device)[:, None]  # (L, 1)
    two_i = torch.arange(0, dim, 2, dtype=torch.float64, device=device)  # (ceil(D/2),)
    angle = position / base ** (two_i / dim)  # (L, ceil(D/2))
    pe = torch.empty(length, dim, dtype=torch.float64, device=device)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return pe.to(dtype)


def _check_sequence(x: Any, dim: int, max_len: int) -> Tensor:
    check_tensor(x, "x", 3, floating=True)
    if x.shape[-1] != dim or x.shape[1] > max_len:
        raise ValueError(
            f"x must have shape (N, L, {dim}) with L <= max_len={max_len}, got {tuple(x.shape)}"
        )
    return x


class SinusoidalPositionalEncoding(nn.Module):
    """Adds ``sinusoidal_positions``: ``(N, L, dim)`` -> ``x + PE[:L]``, for ``L <= max_len``.

    The table is a buffer (not a parameter, not saved in the ``state_dict``).
    """

    def __init__(self, dim: int, max_len: int = 512, base: float = 10000.0) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", 1)
        self.max_len = check_int(max_len, "max_len", 1)
        self.register_buffer("pe", sinusoidal_positions(max_len, dim, base), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, L, dim)`` -> ``(N, L, dim)``."""
        _check_sequence(x, self.dim, self.max_len)
        return x + self.pe[: x.shape[1]].to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned vector per position: ``(N, L, dim)`` -> ``x + weight[:L]``.

    ``weight`` ``(max_len, dim)`` starts as ``N(0, 0.02^2)`` (as ViT's position embedding) and is
    trained with the model; it is ``nn.Embedding(max_len, dim)`` applied to ``0 .. L - 1``.
    """

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.max_len = check_int(max_len, "max_len", 1)
        self.dim = check_int(dim, "dim", 1)
        self.weight = nn.Parameter(torch.randn(max_len, dim) * 0.02)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, L, dim)`` -> ``(N, L, dim)``."""
        _check_sequence(x, self.dim, self.max_len)
        return x + self.weight[: x.shape[1]]


# ---------------------------------------------------------------------------------------------
# Tokenizers


def patchify(images: Tensor, patch_size: int | tuple[int, int]) -> Tensor:
    """Cut images into non-overlapping patches: ``(N, C, H, W)`` -> ``(N, P, C * ph * pw)``.

    ``P = (H / ph) * (W / pw)`` patches in row-major order (left to right, then top to bottom);
    each patch is flattened in the order ``(C, ph, pw)``, the order of a convolution weight,
    so ``patchify(x, p) @ w.reshape(E, -1).T`` is the convolution of ``x`` with ``w`` at stride
    ``p``. ``H`` and ``W`` must be multiples of the patch size.
    """
    check_tensor(images, "images", 4)
    ph, pw = check_pair(patch_size, "patch_size", 1)
    n, c, h, w = images.shape
    if h % ph or w % pw:
        raise ValueError(
            f"the image height and width must be multiples of patch_size {(ph, pw)}, got images "
            f"of shape {tuple(images.shape)}"
        )
    patches = images.reshape(n, c, h // ph, ph, w // pw, pw)  # (N, C, rows, ph, cols, pw)
    patches = patches.permute(0, 2, 4, 1, 3, 5)  # (N, rows, cols, C, ph, pw)
    return patches.reshape(n, (h // ph) * (w // pw), c * ph * pw)


class PatchEmbedding(nn.Module):
    """The ViT tokenizer: ``(N, C, H, W)`` -> ``(N, P, embed_dim)``, one token per patch.

    A convolution whose stride equals its kernel is a linear map applied to each patch:
    ``tokens = patchify(x, p) W^T + b`` with ``W`` ``(embed_dim, C, ph, pw)`` flattened (the
    ``nn.Conv2d`` layout, initialized as ``nn.Conv2d``). Equals
    ``torchvision.models.VisionTransformer``'s ``conv_proj`` followed by its reshape to tokens.
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int | tuple[int, int]) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.embed_dim = check_int(embed_dim, "embed_dim", 1)
        self.patch_size = check_pair(patch_size, "patch_size", 1)
        self.weight = nn.Parameter(torch.empty(embed_dim, in_channels, *self.patch_size))
        self.bias = nn.Parameter(torch.empty(embed_dim))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Conv2d's initialization
        bound = 1 / math.sqrt(in_channels * self.patch_size[0] * self.patch_size[1])
        nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.embed_dim}, patch_size={self.patch_size}"

    @classmethod
    def from_torch(cls, conv: nn.Conv2d) -> PatchEmbedding:
        """A copy of an ``nn.Conv2d`` with stride equal to its kernel (no padding, dilation,
        groups), e.g. ``torchvision.models.VisionTransformer(...).conv_proj``."""
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"PatchEmbedding.from_torch expects a torch.nn.Conv2d, got {conv!r}")
        plain = conv.padding in (0, (0, 0)) and conv.dilation == (1, 1) and conv.groups == 1
        if conv.stride != conv.kernel_size or not plain or conv.bias is None:
            raise ValueError(
                "the convolution must have stride == kernel_size, no padding, dilation 1, "
                f"groups 1 and a bias, got {conv!r}"
            )
        ours = cls(conv.in_channels, conv.out_channels, conv.kernel_size)
        ours.to(device=conv.weight.device, dtype=conv.weight.dtype)
        ours.load_state_dict(conv.state_dict())
        return ours

    def forward(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> ``(N, (H / ph) * (W / pw), embed_dim)``."""
        check_tensor(images, "images", 4, floating=True)
        if images.shape[1] != self.in_channels:
            raise ValueError(
                f"images must have {self.in_channels} channels (N, {self.in_channels}, H, W), "
                f"got shape {tuple(images.shape)}"
            )
        return F.linear(patchify(images, self.patch_size), self.weight.flatten(1), self.bias)


def frame_tokens(spectrogram: Tensor, frames: int) -> Tensor:
    """Cut a spectrogram into tokens of ``frames`` frames: ``(N, M, T)`` -> ``(N, T // f, M * f)``.

    Token ``k`` holds frames ``k * f .. k * f + f - 1`` of all ``M`` mel bands, flattened
    band-major: ``tokens[n, k, m * f + j] = spectrogram[n, m, k * f + j]``; the last
    ``T % f`` frames are dropped. It is ``patchify`` of the spectrogram seen as a one-channel
    image with patches of full height ``(M, f)``, the simplest form of the Audio Spectrogram
    Transformer's tokenizer (Gong et al. 2021 cut overlapping 16 x 16 patches).
    """
    check_tensor(spectrogram, "spectrogram", 3)
    frames = check_int(frames, "frames", 1)
    n, mels, steps = spectrogram.shape
    if steps < frames:
        raise ValueError(
            f"spectrogram of shape {tuple(spectrogram.shape)} has T={steps} frames, fewer than "
            f"frames={frames}: no token"
        )
    count = steps // frames
    tokens = spectrogram[:, :, : count * frames].reshape(n, mels, count, frames)
    return tokens.permute(0, 2, 1, 3).reshape(n, count, mels * frames)


class WordEmbedding(nn.Module):
    """The text tokenizer: ``(tokens (N, T), lengths (N,))`` -> ``(embedded, padding)``.

    ``embedded[n, t] = E[tokens[n, t]]`` ``(N, T, embed_dim)``, an ``nn.Embedding`` (chapter 6)
    whose ``padding_idx`` row stays zero; ``padding`` ``(N, T)`` is ``True`` on the padding
    ``t >= lengths[n]``, the ``key_padding_mask`` that keeps attention off it.
    """

    def __init__(self, vocab_size: int, embed_dim: int, padding_idx: int = 0) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", 1)
        self.embed_dim = check_int(embed_dim, "embed_dim", 1)
        padding_idx = check_int(padding_idx, "padding_idx", 0, vocab_size - 1)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, T)`` ids and ``(N,)`` lengths -> ``(N, T, embed_dim)`` and ``(N, T)`` padding."""
        check_tensor(tokens, "tokens", 2, floating=False)
        check_tensor(lengths, "lengths", 1, floating=False)
        if lengths.shape[0] != tokens.shape[0]:
            raise ValueError(
                f"lengths must have shape (N,) = ({tokens.shape[0]},) for tokens of shape "
                f"{tuple(tokens.shape)}, got {tuple(lengths.shape)}"
            )
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(
                f"tokens must be ids from 0 to {self.vocab_size - 1} "
                f"(vocab_size={self.vocab_size}), got ids from {int(tokens.min())} to "
                f"{int(tokens.max())}"
            )
        steps = torch.arange(tokens.shape[1], device=tokens.device)
        padding = steps[None, :] >= lengths.to(tokens.device)[:, None]  # (N, T)
        return self.embedding(tokens), padding


class FrameEmbedding(nn.Module):
    """The audio tokenizer: a log-mel spectrogram ``(N, n_mels, T)`` -> ``(N, T // f, embed_dim)``.

    ``frame_tokens`` cuts it into tokens of ``f = frames`` frames of all bands, and one linear
    map embeds each: ``tokens = frame_tokens(S, f) W^T + b``, ``W`` ``(embed_dim, n_mels * f)``.
    This is ``PatchEmbedding`` on the spectrogram seen as a one-channel image with patches of
    full height ``(n_mels, f)`` (the Audio Spectrogram Transformer cuts smaller patches).
    """

    def __init__(self, n_mels: int, embed_dim: int, frames: int = 1) -> None:
        super().__init__()
        self.n_mels = check_int(n_mels, "n_mels", 1)
        self.embed_dim = check_int(embed_dim, "embed_dim", 1)
        self.frames = check_int(frames, "frames", 1)
        self.linear = nn.Linear(n_mels * frames, embed_dim)

    def extra_repr(self) -> str:
        return f"{self.n_mels}, {self.embed_dim}, frames={self.frames}"

    def forward(self, spectrogram: Tensor) -> Tensor:
        """``(N, n_mels, T)`` -> ``(N, T // frames, embed_dim)``."""
        check_tensor(spectrogram, "spectrogram", 3, floating=True)
        if spectrogram.shape[1] != self.n_mels:
            raise ValueError(
                f"spectrogram must have shape (N, n_mels={self.n_mels}, T), got "
                f"{tuple(spectrogram.shape)}"
            )
        return self.linear(frame_tokens(spectrogram, self.frames))


# ---------------------------------------------------------------------------------------------
# One Transformer for every modality


class MultimodalTransformer(nn.Module):
    """Tokens of every modality in one sequence, one Transformer encoder, a classification token.

    ``tokenizers`` maps each modality's name to a module that turns its input into tokens of
    width ``d_model``: a tensor ``(N, T_m, d_model)``, or a pair ``(tokens, padding)`` with
    ``padding`` ``(N, T_m)`` ``True`` on tokens to ignore (``WordEmbedding``). Each token gets
    its modality's learned position ``P_m[t]`` and type embedding ``e_m``; a learned
    classification token ``c`` goes first::

        x = [c; X_1 + P_1 + e_1; ...; X_M + P_M + e_M]        (N, 1 + sum_m T_m, d_model)
        h = TransformerEncoder(x, key_padding_mask)            pre-norm, GELU, final LayerNorm
        logits = W h[:, 0] + b                                 (N, num_classes)

    ``forward(inputs, mask=None)``: ``inputs`` maps every name to its tokenizer's input (a
    tensor or a tuple, e.g. ``(tokens, lengths)``); ``mask`` ``(N, M)`` (columns in the order of
    ``tokenizers``) is 1 where a modality is present. A missing modality's tokens are masked out
    as keys (``key_padding_mask``), so no query attends to them and its input is never read;
    the classification token is always there, so every query has a key. With one tokenizer this
    is a plain Transformer classifier (a ViT for patches). During training, ``modality_dropout``
    hides each present modality of each sample with that probability (never all of them).
    ``dim_feedforward`` defaults to ``2 * d_model``; ``max_len`` bounds every ``T_m``.
    """

    def __init__(
        self,
        tokenizers: Mapping[str, nn.Module],
        d_model: int,
        nhead: int,
        num_layers: int = 1,
        dim_feedforward: int | None = None,
        num_classes: int = 10,
        max_len: int = 64,
        dropout: float = 0.0,
        modality_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(tokenizers, Mapping) or not tokenizers:
            raise TypeError(
                f"tokenizers must be a non-empty dict from modality name to module, "
                f"got {describe(tokenizers)}"
            )
        for name, tokenizer in tokenizers.items():
            if not isinstance(tokenizer, nn.Module):
                raise TypeError(
                    f"tokenizers[{name!r}] must be an nn.Module, got {describe(tokenizer)}"
                )
        self.d_model = check_int(d_model, "d_model", 1)
        nhead = check_int(nhead, "nhead", 1)
        if d_model % nhead:
            raise ValueError(
                f"d_model must be divisible by nhead, got d_model={d_model} and nhead={nhead}"
            )
        dim_feedforward = 2 * d_model if dim_feedforward is None else dim_feedforward
        self.max_len = check_int(max_len, "max_len", 1)
        modality_dropout = _check_probability(modality_dropout, "modality_dropout")
        if modality_dropout >= 1:
            raise ValueError(f"modality_dropout must be in [0, 1), got {modality_dropout}")
        self.modality_dropout = modality_dropout
        self.tokenizers = nn.ModuleDict(tokenizers)
        self.positions = nn.ModuleDict(
            {name: LearnedPositionalEmbedding(max_len, d_model) for name in tokenizers}
        )
        self.modality_embedding = nn.Parameter(torch.randn(len(tokenizers), d_model) * 0.02)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        layer = TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, activation="gelu", norm_first=True
        )
        self.encoder = TransformerEncoder(
            layer, check_int(num_layers, "num_layers", 1), norm=nn.LayerNorm(d_model)
        )
        self.head = nn.Linear(d_model, check_int(num_classes, "num_classes", 1))

    @property
    def modalities(self) -> list[str]:
        """The modality names, in the order of the mask's columns."""
        return list(self.tokenizers)

    def _check_mask(self, mask: Tensor | None, n: int, device: torch.device) -> Tensor:
        m = len(self.tokenizers)
        if mask is None:
            return torch.ones(n, m, dtype=torch.bool, device=device)
        check_tensor(mask, "mask", 2)
        if tuple(mask.shape) != (n, m):
            raise ValueError(
                f"mask must have shape (N, M) = {(n, m)} for modalities {self.modalities}, "
                f"got {tuple(mask.shape)}"
            )
        return mask.to(device) > 0

    def embed(
        self, inputs: Mapping[str, Tensor | Sequence[Tensor]], mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor, dict[str, slice]]:
        """The encoder's input: ``(sequence, padding, slices)``.

        ``sequence`` ``(N, S, d_model)`` with ``S = 1 + sum_m T_m``; ``padding`` ``(N, S)``,
        ``True`` on the keys to ignore (padding and missing modalities); ``slices`` maps each
        modality's name to its positions in the sequence (position 0 is the class token).
        """
        if not isinstance(inputs, Mapping):
            raise TypeError(
                f"inputs must be a dict from modality name to input, got {describe(inputs)}"
            )
        if set(inputs) != set(self.tokenizers):
            raise ValueError(f"inputs must have the keys {self.modalities}, got {list(inputs)}")
        parts, paddings, slices, start = [], [], {}, 1
        for name, tokenizer in self.tokenizers.items():
            x = inputs[name]
            out = tokenizer(*x) if isinstance(x, tuple | list) else tokenizer(x)
            tokens, padding = out if isinstance(out, tuple | list) else (out, None)
            check_tensor(tokens, f"the tokens of {name!r}", 3, floating=True)
            if tokens.shape[-1] != self.d_model or tokens.shape[1] > self.max_len:
                raise ValueError(
                    f"the tokenizer of {name!r} must return (N, T, d_model={self.d_model}) with "
                    f"T <= max_len={self.max_len}, got {tuple(tokens.shape)}"
                )
            if padding is None:
                padding = torch.zeros(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
            elif not (
                isinstance(padding, Tensor)
                and padding.dtype == torch.bool
                and padding.shape == tokens.shape[:2]
            ):
                raise ValueError(
                    f"the padding mask of {name!r} must be a bool tensor of shape (N, T) = "
                    f"{tuple(tokens.shape[:2])}, got {describe(padding)}"
                )
            parts.append(self.positions[name](tokens) + self.modality_embedding[len(parts)])
            paddings.append(padding)
            slices[name] = slice(start, start + tokens.shape[1])
            start += tokens.shape[1]
        n = parts[0].shape[0]
        if any(p.shape[0] != n for p in parts):
            shapes = {name: tuple(p.shape) for name, p in zip(self.tokenizers, parts, strict=True)}
            raise ValueError(f"every modality must have the same batch size N, got {shapes}")
        present = self._check_mask(mask, n, parts[0].device)
        if self.training and self.modality_dropout > 0:
            draw = torch.rand(present.shape, device=present.device)
            kept = present & (draw >= self.modality_dropout)
            # Never hide all that is there: keep one present modality, drawn at random.
            empty = ~kept.any(dim=1) & present.any(dim=1)
            if empty.any():
                rescue = torch.multinomial(present[empty].float(), 1)[:, 0]
                kept[empty.nonzero()[:, 0], rescue] = True
            present = kept
        paddings = [p | ~present[:, k, None] for k, p in enumerate(paddings)]
        cls = self.cls_token.expand(n, 1, self.d_model)
        sequence = torch.cat([cls, *parts], dim=1)
        no_padding = torch.zeros(n, 1, dtype=torch.bool, device=sequence.device)
        return sequence, torch.cat([no_padding, *paddings], dim=1), slices

    def forward(
        self, inputs: Mapping[str, Tensor | Sequence[Tensor]], mask: Tensor | None = None
    ) -> Tensor:
        """Class logits ``(N, num_classes)``, read from the classification token."""
        sequence, padding, _ = self.embed(inputs, mask)
        hidden = self.encoder(sequence, src_key_padding_mask=padding)  # (N, S, d_model)
        return self.head(hidden[:, 0])

    @torch.no_grad()
    def cls_attention(
        self, inputs: Mapping[str, Tensor | Sequence[Tensor]], mask: Tensor | None = None
    ) -> tuple[Tensor, dict[str, slice]]:
        """What the class token attends to in the last layer: ``(weights (N, S), slices)``.

        The weights are averaged over the heads; each row sums to 1 over the sequence, and is
        zero on padding and on missing modalities.
        """
        sequence, padding, slices = self.embed(inputs, mask)
        x = sequence
        layers = list(self.encoder.layers)
        for layer in layers[:-1]:
            x = layer(x, src_key_padding_mask=padding)
        last = layers[-1]
        normed = last.norm1(x)  # the layers are pre-norm
        _, weights = last.self_attn(normed, normed, normed, key_padding_mask=padding)
        return weights[:, 0], slices
