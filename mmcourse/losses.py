"""Softmax, log-softmax and cross-entropy from their definitions, as ``torch.nn.functional``.

A classifier outputs one real number per class, the *logits* ``z`` of shape ``(N, K)``. Softmax
turns a row of logits into probabilities, and cross-entropy is the mean negative
log-probability of the right class ``y[i]``::

    softmax(z)[i, k] = exp(z[i, k]) / sum_{k'} exp(z[i, k'])       (a sum over the K classes)
    cross_entropy(z, y) = -1/N sum_i log softmax(z)[i, y[i]]
                        =  1/N sum_i ( logsumexp_k z[i, k] - z[i, y[i]] )

``exp`` overflows for logits above about 88 (float32), so the log-sum-exp is computed after
subtracting each row's maximum ``m``: ``logsumexp z = m + log sum_k exp(z[k] - m)``, whose
largest term is ``exp(0) = 1``. ``F.cross_entropy`` takes the logits themselves: it applies the
log-softmax inside, so a network trained with it must not end in a softmax.

``info_nce`` is the contrastive loss of a dual encoder (CLIP, chapter 8): a cross-entropy in
both directions over the similarity matrix of ``N`` matched pairs, each pair's own partner
being its right "class" among the ``N`` candidates.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmcourse.retrieval import similarity
from mmcourse.validate import check_choice, check_int, check_number, check_shape, check_tensor

__all__ = ["cross_entropy", "info_nce", "log_softmax", "logsumexp", "softmax"]


def _check_logits(logits: Tensor, dim: int) -> int:
    """Check floating-point logits of at least one dimension; return ``dim`` as an int."""
    check_tensor(logits, "logits", floating=True)
    if logits.dim() == 0:
        raise ValueError("logits must have at least one dimension, got a 0-d tensor")
    return check_int(dim, "dim", -logits.dim(), logits.dim() - 1)


def logsumexp(logits: Tensor, dim: int = -1) -> Tensor:
    """``log(sum_k exp(z[..., k, ...]))`` over ``dim``, stable for large logits.

    ``m + log(sum_k exp(z_k - m))`` with ``m = max_k z_k``; the shift ``m`` is a constant for
    the gradient (it cancels exactly), so it is detached. The dimension ``dim`` is removed.
    """
    dim = _check_logits(logits, dim)
    m = logits.detach().amax(dim=dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # a row of -inf stays -inf
    return (m + torch.log(torch.exp(logits - m).sum(dim=dim, keepdim=True))).squeeze(dim)


def log_softmax(logits: Tensor, dim: int = -1) -> Tensor:
    """``z_k - logsumexp(z)`` over ``dim``: the log-probabilities, same shape as ``logits``."""
    return logits - logsumexp(logits, dim=dim).unsqueeze(dim)


def softmax(logits: Tensor, dim: int = -1) -> Tensor:
    """``exp(z_k) / sum_k' exp(z_k')`` over ``dim`` (computed as ``exp(log_softmax)``)."""
    return torch.exp(log_softmax(logits, dim=dim))


def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of class logits against class indices, like ``F.cross_entropy``.

    ``logits``: ``(N, K)``, unnormalized scores; ``target``: ``(N,)`` integers in ``0..K-1``.
    The loss of sample ``i`` is ``logsumexp_k z[i, k] - z[i, y[i]]``, that is
    ``-log softmax(z)[i, y[i]]`` with the softmax taken over the K classes of that sample.
    ``reduction``: ``"mean"`` (the average over the N samples, a 0-d tensor), ``"sum"``, or
    ``"none"`` (the ``(N,)`` per-sample losses).
    """
    check_tensor(target, "target")
    check_tensor(logits, "logits", 2, floating=True)  # (N, num_classes)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
    check_shape(target, "target", (logits.shape[0],))  # one class index per row of logits
    if target.numel() and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(
            f"target values must be class indices in 0..{logits.shape[1] - 1}, got values from "
            f"{target.min().item()} to {target.max().item()}"
        )
    check_choice(reduction, "reduction", ("mean", "sum", "none"))
    picked = logits.gather(1, target.long().unsqueeze(1)).squeeze(1)  # z[i, y[i]]
    losses = logsumexp(logits, dim=1) - picked
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def info_nce(
    a: Tensor, b: Tensor, temperature: float | Tensor = 0.07, reduction: str = "mean"
) -> Tensor:
    """The symmetric InfoNCE (CLIP) loss of ``N`` matched pairs ``(a_i, b_i)``.

    ``a``, ``b``: ``(N, D)``, e.g. the image and the text embeddings of ``N`` image-text pairs,
    row ``i`` of one matching row ``i`` of the other. With the rows L2-normalized, the logits
    are the cosine similarities divided by the temperature ``τ``::

        s[i, j] = a_i · b_j / (||a_i|| ||b_j|| τ)                                 (N, N)
        loss = 1/2 [ -1/N sum_i log softmax_j(s[i, :])[i]        (a_i finds b_i among all b)
                     -1/N sum_j log softmax_i(s[:, j])[j] ]      (b_j finds a_j among all a)

    that is, the mean of ``cross_entropy(s, arange(N))`` and ``cross_entropy(s.T, arange(N))``.
    Each row is a classification of ``a_i`` among the ``N`` candidates ``b``, whose right class
    is its own partner; the other ``N - 1`` pairs of the batch are the negatives. A small
    ``temperature`` sharpens the softmax: the logits then reach ``±1/τ``, so the log-softmax
    is computed stably (``log_softmax``). ``temperature`` is a positive number, or a 0-d
    floating tensor that the loss divides by as it is, so that a learned temperature gets its
    gradient (CLIP learns it, starting at 0.07, as ``1 / exp(logit_scale)``).
    ``reduction``: ``"mean"`` (a 0-d tensor), ``"sum"`` (``N`` times the mean) or ``"none"``
    (the ``(N,)`` per-pair losses, the average of row ``i``'s and column ``i``'s terms).
    """
    s = similarity(a, b)  # validates a (N, D) and b (M, D); (N, M) cosines
    check_shape(b, "b", tuple(a.shape))  # N pairs: b has a's shape
    if isinstance(temperature, Tensor):  # learned: divide by the tensor, keep its gradient
        check_tensor(temperature, "temperature", 0, floating=True)
        if not bool(torch.isfinite(temperature) & (temperature > 0)):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature.item()}")
    else:
        temperature = check_number(temperature, "temperature", positive=True)
    check_choice(reduction, "reduction", ("mean", "sum", "none"))
    logits = s / temperature
    rows = -log_softmax(logits, dim=1).diagonal()  # (N,): a_i -> b_i
    columns = -log_softmax(logits, dim=0).diagonal()  # (N,): b_j -> a_j
    losses = (rows + columns) / 2
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
