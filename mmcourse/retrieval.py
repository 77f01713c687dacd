"""Retrieval in a shared embedding space: cosine similarity, recall@k, zero-shot prediction.

A *dual encoder* (CLIP and chapter 8's contrastive model) maps an image to a vector ``a_i`` and
a text to a vector ``b_j`` of the same size ``D``, so that matching pairs point the same way.
Everything it can do then reads one matrix, the cosine similarity of every image with every
text::

    S[i, j] = a_i · b_j / (||a_i|| ||b_j||)          (N, M), values in [-1, 1]

* retrieval: the texts ranked by ``S[i, :]`` for image ``i`` (or the images by ``S[:, j]``);
  ``recall_at_k`` measures it on ``N`` matched pairs, pair ``i`` being ``(a_i, b_i)``;
* zero-shot classification: embed one text per class ("the digit seven") and give each image
  the class of its most similar text, ``zero_shot_predict``. No classifier is trained.

``mmcourse.losses.info_nce`` is the loss that trains such a space.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmcourse.validate import check_int, check_shape, check_tensor

__all__ = ["normalize", "recall_at_k", "similarity", "zero_shot_predict"]


def _check_embeddings(x: Tensor, name: str) -> Tensor:
    """A floating-point ``(N, D)`` tensor with ``N >= 1`` and ``D >= 1``."""
    check_tensor(x, name, 2, floating=True)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one row and one column, got shape {tuple(x.shape)}"
        )
    return x


def _check_pair(a: Tensor, a_name: str, b: Tensor, b_name: str) -> None:
    """Two finite ``(N, D)`` / ``(M, D)`` embeddings of the same size ``D``, dtype and device."""
    _check_embeddings(a, a_name)
    _check_embeddings(b, b_name)
    check_shape(b, b_name, (None, a.shape[1]))
    if b.dtype != a.dtype:
        raise TypeError(f"{b_name} must have {a_name}'s dtype {a.dtype}, got {b.dtype}")
    if b.device != a.device:
        raise ValueError(f"{b_name} must be on {a_name}'s device {a.device}, got {b.device}")
    for x, name in ((a, a_name), (b, b_name)):  # a NaN compares False and would rank first
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} must hold finite values, got NaN or inf")


def normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Each row divided by its Euclidean length: ``x_i / max(||x_i||, eps)``, ``(N, D)``.

    As ``F.normalize(x, dim=1)``: a row of zeros stays zeros (``eps`` avoids 0 / 0).
    """
    _check_embeddings(x, "x")
    return x / x.norm(dim=1, keepdim=True).clamp_min(eps)


def similarity(a: Tensor, b: Tensor) -> Tensor:
    """The cosine similarity of every row of ``a`` with every row of ``b``.

    ``a``: ``(N, D)``, ``b``: ``(M, D)`` -> ``S`` ``(N, M)`` with
    ``S[i, j] = a_i · b_j / (||a_i|| ||b_j||)``, computed as one matrix product of the
    L2-normalized rows, ``normalize(a) @ normalize(b).T``.
    """
    _check_pair(a, "a", b, "b")
    return normalize(a) @ normalize(b).T


def recall_at_k(a: Tensor, b: Tensor, k: int = 1) -> float:
    """The fraction of queries ``a_i`` whose partner ``b_i`` is among their ``k`` nearest ``b``.

    ``a``, ``b``: ``(N, D)``, ``N`` matched pairs ``(a_i, b_i)``; each ``a_i`` queries the
    ``N`` rows of ``b`` by cosine similarity ``S = similarity(a, b)``. The rank of the partner
    is the number of *other* candidates at least as similar,
    ``rank_i = #{j != i : S[i, j] >= S[i, i]}``, and ``recall@k = 1/N sum_i [rank_i < k]``.
    A tie counts against the query, so embeddings that map everything to one point score 0
    (for ``k < N``), not 1. Guessing scores ``k / N``. For the other direction (texts
    querying images) swap the arguments: ``recall_at_k(b, a, k)``. ``k``: ``1 .. N``.
    """
    _check_pair(a, "a", b, "b")
    check_shape(b, "b", (a.shape[0], a.shape[1]))
    k = check_int(k, "k", 1, a.shape[0])
    with torch.no_grad():
        s = similarity(a, b)  # (N, N)
        partner = s.diagonal()[:, None]  # (N, 1): S[i, i]
        others = ~torch.eye(len(s), dtype=torch.bool, device=s.device)
        rank = ((s >= partner) & others).sum(dim=1)  # (N,)
        return (rank < k).float().mean().item()


def zero_shot_predict(embeddings: Tensor, class_embeddings: Tensor) -> Tensor:
    """The class whose embedding is most similar to each sample's: ``(N,)`` int64.

    ``embeddings``: ``(N, D)``, e.g. images; ``class_embeddings``: ``(K, D)``, e.g. one text per
    class ("the digit 0", ..., "the digit 9"). Returns
    ``argmax_k similarity(embeddings, class_embeddings)[i, k]`` for every sample ``i``.
    """
    _check_pair(embeddings, "embeddings", class_embeddings, "class_embeddings")
    with torch.no_grad():
        return similarity(embeddings, class_embeddings).argmax(dim=1)
