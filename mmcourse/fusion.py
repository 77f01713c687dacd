"""Seven ways to fuse modalities, behind one interface, and a classifier that assembles them.

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
  ``AttentionFusion``;
* **late** (decision-level) fusion combines per-modality predictions: ``LateFusion``.

A missing modality (mask 0) has its features replaced by zeros, and the methods that can do more
(weights, gates, attention, late fusion) leave it out of their normalization altogether.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "AttentionFusion",
    "ConcatFusion",
    "Fusion",
    "GatedFusion",
    "LateFusion",
    "LowRankFusion",
    "MultimodalClassifier",
    "Precomputed",
    "TensorFusion",
    "UnimodalClassifier",
    "WeightedSumFusion",
    "append_one",
    "outer_product",
]


class Fusion(nn.Module):
    """Base class: stores the sizes and checks the inputs of every fusion method."""

    def __init__(self, in_dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        in_dims = list(in_dims)
        if not in_dims or not all(isinstance(d, int) and d > 0 for d in in_dims):
            raise ValueError(f"in_dims must be a non-empty list of positive ints, got {in_dims!r}")
        if not isinstance(out_dim, int) or out_dim < 1:
            raise ValueError(f"out_dim must be a positive int, got {out_dim!r}")
        self.in_dims = in_dims
        self.out_dim = out_dim

    @property
    def num_modalities(self) -> int:
        """How many modalities this module fuses."""
        return len(self.in_dims)

    def check(self, features: Sequence[Tensor], mask: Tensor | None) -> tuple[list[Tensor], Tensor]:
        """Validate ``features`` and ``mask``; return the features and a float ``(N, M)`` mask."""
        if isinstance(features, Tensor) or not isinstance(features, Sequence):
            kind = type(features).__name__
            raise TypeError(f"features must be a list of {self.num_modalities} tensors, got {kind}")
        if len(features) != self.num_modalities:
            raise ValueError(
                f"expected {self.num_modalities} feature tensors (in_dims={self.in_dims}), "
                f"got {len(features)}"
            )
        shapes = [tuple(f.shape) for f in features]
        for m, (f, d) in enumerate(zip(features, self.in_dims, strict=True)):
            if f.dim() != 2 or f.shape[1] != d:
                raise ValueError(
                    f"modality {m} should have features of shape (N, {d}), got {tuple(f.shape)} "
                    f"(all shapes: {shapes})"
                )
        if len({f.shape[0] for f in features}) != 1:
            raise ValueError(f"all modalities need the same batch size, got shapes {shapes}")
        n = features[0].shape[0]
        if mask is None:
            return list(features), features[0].new_ones(n, self.num_modalities)
        if tuple(mask.shape) != (n, self.num_modalities):
            raise ValueError(
                f"mask should have shape (N, M) = ({n}, {self.num_modalities}), "
                f"got {tuple(mask.shape)}"
            )
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
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be a positive int, got {rank!r}")
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
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        self.projections = nn.ModuleList(nn.Linear(d, embed_dim) for d in self.in_dims)
        self.modality_embedding = nn.Parameter(torch.randn(self.num_modalities, embed_dim) * 0.02)
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(embed_dim)
        self.out = nn.Linear(embed_dim, out_dim)
        self.last_attention: Tensor | None = None  # (N, M, M), kept for plotting

    def forward(self, features: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """Attend across the modality tokens and pool the present ones, ``(N, out_dim)``."""
        features, mask = self.check(features, mask)
        tokens = torch.stack([p(f) for p, f in zip(self.projections, features, strict=True)], 1)
        tokens = tokens + self.modality_embedding
        present = mask > 0
        # A sample with no modality at all attends to everything (all zeros) instead of nothing.
        key_padding = ~present & present.any(dim=1, keepdim=True)
        attended, weights = self.attention(tokens, tokens, tokens, key_padding_mask=key_padding)
        self.last_attention = weights.detach()
        tokens = self.norm(tokens + attended)
        pooled = (tokens * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return self.out(pooled)


class LateFusion(Fusion):
    """Decision-level fusion: one classifier per modality, their log-probabilities averaged.

    ``log p(y | x) = mean_m log_softmax(W_m x_m + b_m)`` over the present modalities, which is a
    product of experts; use it as logits (``F.cross_entropy`` renormalizes them). With
    ``combine="logits"`` the raw logits are averaged instead. Parameters:
    ``sum_m (d_m + 1) * out_dim``.
    """

    def __init__(self, in_dims: Sequence[int], out_dim: int, combine: str = "log_prob") -> None:
        super().__init__(in_dims, out_dim)
        if combine not in ("log_prob", "logits"):
            raise ValueError(f"combine must be 'log_prob' or 'logits', got {combine!r}")
        self.combine = combine
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

    ``encoders[m]`` turns modality ``m``'s input into ``(N, d_m)`` features (its ``out_dim``
    attribute gives ``d_m``); ``fusion`` combines them into ``(N, fusion.out_dim)``; ``head``
    (default: a linear layer) maps that to class logits.

    ``forward(*inputs)`` takes the encoders' inputs in order, ``arity[m]`` tensors for encoder
    ``m`` (the text encoder takes tokens and lengths: arity 2), optionally followed by an
    ``(N, M)`` presence mask. During training, ``modality_dropout`` hides each modality of each
    sample with that probability (never all of them), a simple remedy for one modality
    dominating the others.
    """

    def __init__(
        self,
        encoders: Sequence[nn.Module],
        fusion: Fusion,
        head: nn.Module | None = None,
        num_classes: int = 10,
        arity: Sequence[int] | None = None,
        modality_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(fusion, Fusion):
            raise TypeError(f"fusion must be a mmcourse.fusion.Fusion, got {type(fusion).__name__}")
        if len(encoders) != fusion.num_modalities:
            raise ValueError(
                f"{len(encoders)} encoders but the fusion expects "
                f"{fusion.num_modalities} modalities"
            )
        dims = [getattr(e, "out_dim", None) for e in encoders]
        if dims != fusion.in_dims:
            raise ValueError(
                f"encoder out_dims {dims} do not match fusion.in_dims {fusion.in_dims}"
            )
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {modality_dropout}")
        self.encoders = nn.ModuleList(encoders)
        self.fusion = fusion
        self.head = head if head is not None else nn.Linear(fusion.out_dim, num_classes)
        self.arity = list(arity) if arity is not None else [1] * len(encoders)
        if len(self.arity) != len(encoders):
            raise ValueError(f"arity {self.arity} needs one entry per encoder ({len(encoders)})")
        self.modality_dropout = modality_dropout

    def split_inputs(
        self, inputs: Sequence[Tensor]
    ) -> tuple[list[tuple[Tensor, ...]], Tensor | None]:
        """Group the flat inputs per encoder; return them and the mask (or None)."""
        needed = sum(self.arity)
        if len(inputs) not in (needed, needed + 1):
            raise ValueError(
                f"expected {needed} input tensors (arity {self.arity}), optionally followed by a "
                f"mask, got {len(inputs)}"
            )
        groups, start = [], 0
        for k in self.arity:
            groups.append(tuple(inputs[start : start + k]))
            start += k
        return groups, (inputs[needed] if len(inputs) > needed else None)

    def features(self, *inputs: Tensor) -> tuple[list[Tensor], Tensor | None]:
        """Each encoder's ``(N, d_m)`` features, and the mask that goes with them."""
        groups, mask = self.split_inputs(inputs)
        return [enc(*group) for enc, group in zip(self.encoders, groups, strict=True)], mask

    def forward(self, *inputs: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        features, mask = self.features(*inputs)
        if self.training and self.modality_dropout > 0:
            n, m = features[0].shape[0], len(features)
            keep = (torch.rand(n, m, device=features[0].device) >= self.modality_dropout).float()
            empty = keep.sum(1) == 0  # never hide everything: keep one modality at random
            if empty.any():
                rescue = torch.randint(m, (int(empty.sum()),), device=keep.device)
                keep[empty.nonzero()[:, 0], rescue] = 1.0
            mask = keep if mask is None else mask * keep
        return self.head(self.fusion(features, mask))


class UnimodalClassifier(nn.Module):
    """One encoder and a linear head: the single-modality baseline every fusion must beat.

    ``forward(*inputs)`` passes all inputs to the encoder (the text encoder takes tokens and
    lengths) and returns ``(N, num_classes)`` logits.
    """

    def __init__(self, encoder: nn.Module, num_classes: int = 10) -> None:
        super().__init__()
        out_dim = getattr(encoder, "out_dim", None)
        if not isinstance(out_dim, int):
            raise TypeError(f"the encoder needs an int attribute out_dim, got {out_dim!r}")
        self.encoder = encoder
        self.head = nn.Linear(out_dim, num_classes)

    def forward(self, *inputs: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        return self.head(self.encoder(*inputs))


class Precomputed(nn.Identity):
    """Stands in for an encoder whose features were computed beforehand (e.g. a frozen one).

    It passes ``(N, out_dim)`` features through unchanged, and declares ``out_dim`` so that a
    ``MultimodalClassifier`` can be trained on cached features.
    """

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        if isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1:
            raise ValueError(f"out_dim must be a positive int, got {out_dim!r}")
        self.out_dim = out_dim

    def forward(self, features: Tensor) -> Tensor:
        """The features themselves, checked to be ``(N, out_dim)``."""
        if features.dim() != 2 or features.shape[1] != self.out_dim:
            raise ValueError(
                f"expected precomputed features of shape (N, {self.out_dim}), "
                f"got {tuple(features.shape)}"
            )
        return features
