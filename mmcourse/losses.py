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
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmcourse.validate import check_choice, check_int, check_shape, check_tensor

__all__ = ["cross_entropy", "log_softmax", "logsumexp", "softmax"]


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
