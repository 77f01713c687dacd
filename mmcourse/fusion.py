"""Eight ways to fuse modalities, behind one interface, and a classifier that assembles them.

Every fusion module is built as ``Fusion(in_dims, out_dim, ...)`` from the feature size of each
modality and an output size, and is called as ``fusion(features, mask=None)``:

* ``features``: a list of ``M`` tensors, the ``m``-th of shape ``(N, in_dims[m])``;
* ``mask`` (optional): ``(N, M)``, 1 where a modality is present and 0 where it is missing;
* returns ``(N, out_dim)``.

Where the methods fuse, in the words the course uses (papers disagree; MultiBench calls
representation concatenation "late fusion"):

* **early** fusion combines raw inputs, before any modality-specific encoder (not here: our
  modalities have different shapes, so each gets an encoder first);
* **intermediate** (representation-level) fusion combines the encoders' feature vectors:
  ``ConcatFusion``, ``WeightedSumFusion``, ``TensorFusion``, ``LowRankFusion``, ``GatedFusion``,
  ``AttentionFusion``, ``CrossAttentionFusion``;
* **late** (decision-level) fusion combines per-modality predictions: ``LateFusion``.

A missing modality (mask 0) has its features replaced by zeros, and the methods that can do more
(weights, gates, attention, late fusion) leave it out of their normalization altogether.

``MultimodalClassifier`` assembles a model: one encoder per modality (``mmcourse.encoders``), a
fusion module, a head. It is called like a fusion module, ``model(inputs, mask=None)``, with
``inputs`` a dict from modality name to that encoder's input instead of a list of features.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmcourse.validate import (
    check_choice,
    check_int,
    check_number,
    check_shape,
    check_tensor,
    describe,
)

__all__ = [
    "AttentionFusion",
    "ConcatFusion",
    "CrossAttentionFusion",
    "Fusion",
    "GatedFusion",
    "LateFusion",
    "LowRankFusion",
    "MultimodalClassifier",
    "TensorFusion",
    "WeightedSumFusion",
    "append_one",
    "outer_product",
]


class Fusion(nn.Module):
    """Base class: stores the sizes and checks the inputs of every fusion method."""

    def __init__(self, in_dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        if isinstance(in_dims, str) or not isinstance(in_dims, Sequence):
            raise TypeError(f"in_dims must be a list of ints, got {describe(in_dims)}")
        if not in_dims:
            raise ValueError("in_dims must hold one feature size per modality, got an empty list")
        self.in_dims = [check_int(d, f"in_dims[{m}]", 1) for m, d in enumerate(in_dims)]
        self.out_dim = check_int(out_dim, "out_dim", 1)

    @property
    def num_modalities(self) -> int:
        """How many modalities this module fuses."""
        return len(self.in_dims)

    def check(self, features: Sequence[Tensor], mask: Tensor | None) -> tuple[list[Tensor], Tensor]:
        """Validate ``features`` and ``mask``; return the features and a float ``(N, M)`` mask."""
        if isinstance(features, Tensor) or not isinstance(features, Sequence):
            wanted = f"a list of {self.num_modalities} tensors"
            raise TypeError(f"features must be {wanted}, got {describe(features)}")
        if len(features) != self.num_modalities:
            raise ValueError(
                f"features must be {self.num_modalities} tensors (in_dims={self.in_dims}), "
                f"got {len(features)}"
            )
        for m, (f, d) in enumerate(zip(features, self.in_dims, strict=True)):
            check_tensor(f, f"features[{m}]", 2)
            check_shape(f, f"features[{m}]", (None, d))
        shapes = [tuple(f.shape) for f in features]
        if len({f.shape[0] for f in features}) != 1:
            raise ValueError(f"features must share their batch size N, got shapes {shapes}")
        n = features[0].shape[0]
        if mask is None:
            return list(features), features[0].new_ones(n, self.num_modalities)
        check_tensor(mask, "mask", 2)
        check_shape(mask, "mask", (n, self.num_modalities))  # (N, M)
        mask = mask.to(features[0].dtype)
        return [f * mask[:, m : m + 1] for m, f in enumerate(features)], mask


class ConcatFusion(Fusion):
    """Concatenate the features, then one linear layer: ``W [x_1; ...; x_M] + b``.

    Parameters: ``(sum_m d_m) * out_dim + out_dim``.
    """

    def __init__(self, in_dims: Sequence[int], out_dim: int) -> None:
        super().__init__(in_dims, out_dim)
        self.linear = nn.Linear(sum(self.in_dims), out_dim)

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """``(N, out_dim)`` from the concatenated ``(N, sum d_m)`` features."""
        features, _ = self.check(features, mask)
        return self.linear(torch.cat(features, dim=1))


class WeightedSumFusion(Fusion):
    """Project every modality to ``out_dim``, then take a learned convex combination.

    ``h = sum_m w_m (P_m x_m + b_m)`` with ``w = softmax(a)`` over the present modalities, where
    ``a`` is one learned score per modality. Vectors of different sizes cannot be added as they
    are: the projections ``P_m`` bring them to a common size first.
    Parameters: ``sum_m (d_m + 1) * out_dim + M``.
    """

    def __init__(self, in_dims: Sequence[int], out_dim: int) -> None:
        super().__init__(in_dims, out_dim)
        self.projections = nn.ModuleList(nn.Linear(d, out_dim) for d in self.in_dims)
        self.scores = nn.Parameter(torch.zeros(self.num_modalities))

    def weights(self, mask: Tensor) -> Tensor:
        """``(N, M)`` convex weights: softmax of the scores over the present modalities."""
        scores = self.scores.expand_as(mask).masked_fill(mask == 0, float("-inf"))
        return torch.softmax(scores, dim=1).nan_to_num(0.0)  # a sample with nothing present: 0

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """The weighted sum of the projected features, ``(N, out_dim)``."""
        features, mask = self.check(features, mask)
        projected = torch.stack([p(f) for p, f in zip(self.projections, features, strict=True)], 1)
        return (self.weights(mask).unsqueeze(-1) * projected).sum(dim=1)


def append_one(x: Tensor) -> Tensor:
    """``[x; 1]``: append a constant 1 to every feature vector, ``(N, d) -> (N, d + 1)``."""
    return torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)


def outer_product(features: Sequence[Tensor]) -> Tensor:
    """The tensor-fusion representation ``Z = [x_1; 1] ⊗ ... ⊗ [x_M; 1]``, flattened.

    Shapes: ``(N, d_m)`` each; returns ``(N, prod_m (d_m + 1))``. Thanks to the appended ones, Z
    contains every ``x_m`` itself, every pairwise product and the M-fold product (Zadeh et al.).
    """
    z = append_one(features[0])
    for x in features[1:]:
        z = torch.einsum("ni,nj->nij", z, append_one(x)).flatten(1)
    return z


class TensorFusion(Fusion):
    """Tensor fusion (Zadeh et al. 2017): the outer product of ``[x_m; 1]``, then a linear layer.

    ``h = W vec([x_1; 1] ⊗ ... ⊗ [x_M; 1]) + b``. The fused vector has ``prod_m (d_m + 1)``
    entries, so the layer has ``prod_m (d_m + 1) * out_dim + out_dim`` parameters: the size grows
    as the product of the feature sizes.
    """

    def __init__(self, in_dims: Sequence[int], out_dim: int) -> None:
        super().__init__(in_dims, out_dim)
        self.fused_dim = math.prod(d + 1 for d in self.in_dims)
        self.linear = nn.Linear(self.fused_dim, out_dim)

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """``W Z + b`` where ``Z`` is the flattened outer product, ``(N, out_dim)``."""
        features, _ = self.check(features, mask)
        return self.linear(outer_product(features))


class LowRankFusion(Fusion):
    """Low-rank multimodal fusion (Liu et al. 2018): tensor fusion without forming the tensor.

    The weight of tensor fusion is constrained to a rank-``r`` CP form,
    ``W[:, o] = sum_i lambda_i  w_1^(i)[:, o] ⊗ ... ⊗ w_M^(i)[:, o]``, so that

    ``h = sum_i lambda_i  prod_m ([x_m; 1] @ w_m^(i)) + b``      (product elementwise over m).

    Every factor ``w_m`` of shape ``(r, d_m + 1, out_dim)`` is a registered parameter (an
    ``nn.ParameterList``), so it moves with ``.to()`` and is trained. Parameters:
    ``r * sum_m (d_m + 1) * out_dim + r + out_dim``, linear in the number of modalities.
    """

    def __init__(self, in_dims: Sequence[int], out_dim: int, rank: int = 4) -> None:
        super().__init__(in_dims, out_dim)
        rank = check_int(rank, "rank", 1)
        self.rank = rank
        self.factors = nn.ParameterList(
            nn.Parameter(torch.empty(rank, d + 1, out_dim)) for d in self.in_dims
        )
        self.rank_weights = nn.Parameter(torch.ones(rank) / rank)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        for factor in self.factors:
            nn.init.xavier_normal_(factor)

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """``sum_i lambda_i prod_m ([x_m; 1] @ w_m^(i)) + b``, ``(N, out_dim)``."""
        features, _ = self.check(features, mask)
        product = None
        for x, factor in zip(features, self.factors, strict=True):
            projected = torch.einsum("nd,rdo->nro", append_one(x), factor)  # (N, r, out)
            product = projected if product is None else product * projected
        return torch.einsum("nro,r->no", product, self.rank_weights) + self.bias

    def full_weight(self) -> Tensor:
        """The ``(prod_m (d_m + 1), out_dim)`` tensor-fusion weight this low-rank module equals."""
        weight = None
        for factor in self.factors:  # (r, d_m + 1, out)
            weight = factor if weight is None else torch.einsum("rio,rjo->rijo", weight, factor)
            weight = weight.reshape(self.rank, -1, self.out_dim)
        return torch.einsum("rko,r->ko", weight, self.rank_weights)


class GatedFusion(Fusion):
    """A gated multimodal unit (Arevalo et al. 2017), for any number of modalities.

    ``h_m = tanh(W_m x_m)``, gates ``z = softmax_m(G [x_1; ...; x_M])`` per output unit, and
    ``h = sum_m z_m ⊙ h_m``: the network decides, per sample and per unit, how much to trust each
    modality. With two modalities the softmax gate is the GMU's ``z`` and ``1 - z``.
    Parameters: ``sum_m (d_m + 1) * out_dim + (sum_m d_m + 1) * M * out_dim``.
    """

    def __init__(self, in_dims: Sequence[int], out_dim: int) -> None:
        super().__init__(in_dims, out_dim)
        self.transforms = nn.ModuleList(nn.Linear(d, out_dim) for d in self.in_dims)
        self.gate = nn.Linear(sum(self.in_dims), self.num_modalities * out_dim)

    def gates(self, features: Sequence[Tensor], mask: Tensor) -> Tensor:
        """``(N, M, out_dim)`` gate values, summing to 1 over the present modalities."""
        logits = self.gate(torch.cat(list(features), 1)).view(-1, self.num_modalities, self.out_dim)
        logits = logits.masked_fill(mask.unsqueeze(-1) == 0, float("-inf"))
        return torch.softmax(logits, dim=1).nan_to_num(0.0)

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """``sum_m z_m ⊙ tanh(W_m x_m)``, ``(N, out_dim)``."""
        features, mask = self.check(features, mask)
        hidden = torch.stack(
            [torch.tanh(t(f)) for t, f in zip(self.transforms, features, strict=True)], 1
        )
        return (self.gates(features, mask) * hidden).sum(dim=1)


class AttentionFusion(Fusion):
    """Every modality becomes a token; the tokens attend to each other; the result is pooled.

    ``t_m = P_m x_m + e_m`` (a projection to ``embed_dim`` plus a learned modality embedding),
    ``T' = LayerNorm(T + MultiheadAttention(T, T, T))`` over the M tokens with missing modalities
    masked out as keys, then the mean of the present tokens goes through a linear layer to
    ``out_dim``. This is a one-layer Transformer over modality tokens, the step towards chapter 9.
    """

    def __init__(
        self, in_dims: Sequence[int], out_dim: int, embed_dim: int = 64, num_heads: int = 4
    ) -> None:
        super().__init__(in_dims, out_dim)
        embed_dim = check_int(embed_dim, "embed_dim", 1)
        num_heads = check_int(num_heads, "num_heads", 1)
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be divisible by num_heads = {num_heads}, got {embed_dim}"
            )
        self.projections = nn.ModuleList(nn.Linear(d, embed_dim) for d in self.in_dims)
        self.modality_embedding = nn.Parameter(torch.randn(self.num_modalities, embed_dim) * 0.02)
        self.attention = self.make_attention(embed_dim, num_heads)
        self.norm = nn.LayerNorm(embed_dim)
        self.out = nn.Linear(embed_dim, out_dim)
        self.last_attention: Tensor | None = None  # (N, M, M), kept for plotting

    def make_attention(self, embed_dim: int, num_heads: int) -> nn.Module:
        """The multi-head attention over the modality tokens (batch first)."""
        return nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)

    def attend(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Self-attention over the present modalities' tokens: ``(N, M, E)`` and the weights."""
        present = mask > 0
        # A sample with no modality at all attends to everything (all zeros) instead of nothing.
        key_padding = ~present & present.any(dim=1, keepdim=True)
        return self.attention(tokens, tokens, tokens, key_padding_mask=key_padding)

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """Attend across the modality tokens and pool the present ones, ``(N, out_dim)``."""
        features, mask = self.check(features, mask)
        tokens = torch.stack([p(f) for p, f in zip(self.projections, features, strict=True)], 1)
        tokens = tokens + self.modality_embedding  # (N, M, E)
        attended, weights = self.attend(tokens, mask)
        self.last_attention = weights.detach()
        tokens = self.norm(tokens + attended)
        pooled = (tokens * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return self.out(pooled)


class CrossAttentionFusion(AttentionFusion):
    """Cross-modal attention: every modality's token queries the tokens of the *other* modalities.

    ``t_m = P_m x_m + e_m`` (a projection to ``embed_dim`` plus a learned modality embedding),
    then for every modality ``m`` the query ``t_m`` attends only to the keys and values of the
    other present modalities ``j != m`` (multi-head, ``mmcourse.attention``)::

        c_m = MultiheadAttention(t_m, {t_j : j != m}, {t_j : j != m}),   h_m = LayerNorm(t_m + c_m)

    and the mean of the present ``h_m`` goes through a linear layer to ``out_dim``. Each
    modality is re-described by what the others say about it, as in the cross-modal blocks of
    the Multimodal Transformer (Tsai et al. 2019); ``AttentionFusion`` lets a token attend to
    itself too. A modality whose partners are all missing (or the only one) attends to itself,
    the one key left. With one feature vector per modality the keys are the ``M - 1`` other
    vectors; ``mmcourse.attention.MultimodalTransformer`` attends across modalities token by
    token.
    """

    def make_attention(self, embed_dim: int, num_heads: int) -> nn.Module:
        """The course's own multi-head attention (``mmcourse.attention``), batch first."""
        from mmcourse.attention import MultiheadAttention

        return MultiheadAttention(embed_dim, num_heads)

    def forbidden(self, mask: Tensor) -> Tensor:
        """``(N, M, M)`` bool, ``True`` where query ``m`` may not attend to key ``j``.

        Forbidden: itself and the missing modalities; a query left with no key gets itself.
        """
        m = self.num_modalities
        eye = torch.eye(m, dtype=torch.bool, device=mask.device)
        forbid = eye | (mask == 0)[:, None, :]  # (N, M, M)
        alone = forbid.all(dim=2, keepdim=True)  # (N, M, 1): no partner present
        return forbid & ~(alone & eye)

    def attend(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Each token attends to the other present modalities' tokens only."""
        heads = self.attention.num_heads
        forbid = self.forbidden(mask).repeat_interleave(heads, dim=0)  # (N * H, M, M)
        return self.attention(tokens, tokens, tokens, attn_mask=forbid)


class LateFusion(Fusion):
    """Decision-level fusion: one classifier per modality, their log-probabilities averaged.

    ``log p(y | x) = mean_m log_softmax(W_m x_m + b_m)`` over the present modalities, which is a
    product of experts; use it as logits (``F.cross_entropy`` renormalizes them). With
    ``combine="logits"`` the raw logits are averaged instead. Parameters:
    ``sum_m (d_m + 1) * out_dim``.
    """

    def __init__(self, in_dims: Sequence[int], out_dim: int, combine: str = "log_prob") -> None:
        super().__init__(in_dims, out_dim)
        self.combine = check_choice(combine, "combine", ("log_prob", "logits"))
        self.heads = nn.ModuleList(nn.Linear(d, out_dim) for d in self.in_dims)

    def unimodal_logits(self, features: Sequence[Tensor]) -> Tensor:
        """``(N, M, out_dim)``: each modality's own prediction."""
        return torch.stack([h(f) for h, f in zip(self.heads, features, strict=True)], 1)

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """The average over present modalities of their log-probabilities (or logits)."""
        features, mask = self.check(features, mask)
        decisions = self.unimodal_logits(features)
        if self.combine == "log_prob":
            decisions = F.log_softmax(decisions, dim=-1)
        weights = mask / mask.sum(1, keepdim=True).clamp(min=1)
        return (weights.unsqueeze(-1) * decisions).sum(dim=1)


class MultimodalClassifier(nn.Module):
    """``encoders -> fusion -> head``: the shape of every model in the fusion chapter.

    ``encoders`` maps each modality's name to its encoder (any module with an ``out_dim``, such
    as those of ``mmcourse.encoders``), in the order the fusion reads them: ``fusion.in_dims``
    must be their ``out_dim``s. ``fusion`` combines the ``(N, d_m)`` features into
    ``(N, fusion.out_dim)``; ``head`` (default: a linear layer) maps that to class logits.

    ``forward(inputs, mask=None)``: ``inputs`` maps every modality's name to its encoder's input,
    a tensor or a tuple of tensors (the text encoder reads ``(tokens, lengths)``); ``mask`` is
    the optional ``(N, M)`` presence mask, its columns in the order of ``encoders``, as every
    fusion module takes it. During training, ``modality_dropout`` hides each modality of each
    sample with that probability (never all of them), a simple remedy for one modality
    dominating the others.
    """

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        fusion: Fusion,
        head: nn.Module | None = None,
        num_classes: int = 10,
        modality_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(encoders, Mapping):
            raise TypeError(
                f"encoders must be a dict from modality name to encoder, got {describe(encoders)}"
            )
        if not isinstance(fusion, Fusion):
            raise TypeError(f"fusion must be a mmcourse.fusion.Fusion, got {type(fusion).__name__}")
        if len(encoders) != fusion.num_modalities:
            raise ValueError(
                f"encoders must have one entry per modality the fusion reads "
                f"({fusion.num_modalities}), got {len(encoders)}: {list(encoders)}"
            )
        dims = [getattr(e, "out_dim", None) for e in encoders.values()]
        if dims != fusion.in_dims:
            raise ValueError(
                f"the encoders' out_dim must be fusion.in_dims = {fusion.in_dims}, got {dims}"
            )
        if check_number(modality_dropout, "modality_dropout", 0.0) >= 1:
            raise ValueError(f"modality_dropout must be in [0, 1), got {modality_dropout}")
        self.encoders = nn.ModuleDict(encoders)
        self.fusion = fusion
        self.head = head if head is not None else nn.Linear(fusion.out_dim, num_classes)
        self.modality_dropout = modality_dropout

    def features(self, inputs: Mapping[str, Tensor | Sequence[Tensor]]) -> list[Tensor]:
        """Each encoder's ``(N, d_m)`` features, in the order of ``encoders``."""
        if not isinstance(inputs, Mapping):
            raise TypeError(
                f"inputs must be a dict from modality name to input, got {describe(inputs)}"
            )
        if set(inputs) != set(self.encoders):
            raise ValueError(f"inputs must have the keys {list(self.encoders)}, got {list(inputs)}")
        features = []
        for name, encoder in self.encoders.items():
            x = inputs[name]
            features.append(encoder(*x) if isinstance(x, tuple | list) else encoder(x))
        return features

    def forward(
        self, inputs: Mapping[str, Tensor | Sequence[Tensor]], mask: Tensor | None = None
    ) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        features = self.features(inputs)
        if self.training and self.modality_dropout > 0:
            n, m = features[0].shape[0], len(features)
            keep = (torch.rand(n, m, device=features[0].device) >= self.modality_dropout).float()
            empty = keep.sum(1) == 0  # never hide everything: keep one modality at random
            if empty.any():
                rescue = torch.randint(m, (int(empty.sum()),), device=keep.device)
                keep[empty.nonzero()[:, 0], rescue] = 1.0
            mask = keep if mask is None else mask * keep
        return self.head(self.fusion(features, mask))
