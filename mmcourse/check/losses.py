"""Checkers for the loss exercises, on ``mmcourse.losses``: cross-entropy
(exercises/03_pooling_cnn.md) and the symmetric InfoNCE loss (exercises/08_fusion.md).

A loss must be right and so must its gradient: the first tensor of every case requires grad
(the logits, the embeddings ``a``), so that the engine compares ``d loss / d input`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from mmcourse.check import _core
from mmcourse.check._core import Close, Gradient, Mistake, Parts, case, exercise


@dataclass
class _Loss(Close):
    """The loss: a finite tensor holding one number (a Python number cannot be backpropagated).

    ``mean_over`` names what the loss averages, for the message about a result of many numbers.
    """

    mean_over: str = "the samples"

    def convert(self, value: Any, expected: Any, case: str, what: str = "") -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise _core.CheckFailed(
                f"{case}: you returned the Python number {value!r}; return a tensor "
                "(no .item()), so that the loss can be backpropagated"
            )
        if _core.as_tensor(value, case).numel() != 1:
            raise _core.CheckFailed(
                f"{case}: your result has shape {tuple(value.shape)}, expected a single "
                f"number (a 0-d tensor): the mean over {self.mean_over}"
            )
        value = super().convert(value, expected, case).reshape(())
        if not torch.isfinite(value):
            raise _core.CheckFailed(
                f"{case}: your loss is {value.item()}. exp() overflows for large "
                "logits: subtract each row's maximum first (the log-sum-exp trick), "
                "log sum_k exp(z_k) = m + log sum_k exp(z_k - m)"
            )
        return value

    def explain(self, value: Any, expected: Any, case: str, what: str = "") -> str:
        return super().explain(value.item(), expected.item(), case, "your loss")


def _ce_cases():
    g = torch.Generator().manual_seed(6)
    cases = []
    for n, k, scale in [(4, 10, 1.0), (1, 10, 2.0), (7, 3, 1.0), (16, 2, 3.0), (5, 10, 500.0)]:
        logits = scale * torch.randn(n, k, generator=g)
        cases.append(case(logits.requires_grad_(), torch.randint(0, k, (n,), generator=g)))
    return cases


def _right_class_probability(logits, target):
    return F.softmax(logits, dim=1)[torch.arange(len(target)), target]


@exercise(
    cases=_ce_cases,
    describe=lambda logits, target: (
        f"for logits of shape {tuple(logits.shape)}"
        + (" (large logits)" if logits.abs().max() > 100 else "")
    ),
    compare=Parts(
        loss=_Loss(),
        gradient=Gradient(
            missing="your loss has the right value but no gradient: compute it with torch "
            "operations on the logits (no .item(), .detach() or NumPy)"
        ),
    ),
    mistakes=[
        Mistake(
            "You normalized over the samples of the batch (dim=0). The softmax of sample i "
            "sums over its classes: logsumexp over dim=1 (erratum E12).",
            lambda z, y: -F.log_softmax(z, dim=0)[range(len(y)), y].mean(),
        ),
        Mistake(
            "Average over the samples (divide by N), as F.cross_entropy does by default.",
            lambda z, y: F.cross_entropy(z, y, reduction="sum"),
        ),
        Mistake(
            "Cross-entropy is the *negative* mean log-probability of the right class.",
            lambda z, y: -F.cross_entropy(z, y),
        ),
        Mistake(
            "Take the log of the right class's probability: -log p[i, y[i]], averaged.",
            lambda z, y: -_right_class_probability(z, y).mean(),
        ),
        Mistake(
            "Take the log of the right class's probability: -log p[i, y[i]], averaged "
            "(not 1 - p[i, y[i]]).",
            lambda z, y: 1 - _right_class_probability(z, y).mean(),
        ),
    ],
)
def cross_entropy(logits, target):
    """Check ``fn(logits, target)`` against ``F.cross_entropy`` (values and gradients)."""
    return F.cross_entropy(logits, target)


# The symmetric InfoNCE (CLIP) loss of N matched pairs (a_i, b_i)
def _info_nce_cases():
    g = torch.Generator().manual_seed(84)
    cases = []
    settings = [(4, 8, 0.5), (6, 3, 0.1), (2, 1, 0.2), (1, 5, 0.07), (16, 4, 0.01), (5, 6, 0.2)]
    for k, (n, d, temperature) in enumerate(settings):
        a = torch.randn(n, d, generator=g)
        b = torch.randn(n, d, generator=g)
        # The gradient is checked on a, and in the last case on b: both towers must learn.
        (b if k == len(settings) - 1 else a).requires_grad_()
        cases.append(case(a, b, temperature))
    return cases


def _cosine_logits(a, b, temperature):
    """``s[i, j] = cos(a_i, b_j) / temperature``, ``(N, N)``."""
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature


def _both_ways(s, reduction="mean"):
    """Cross-entropy over the rows of ``s`` and over its columns, each pair its own class."""
    pair = torch.arange(len(s))
    rows = F.cross_entropy(s, pair, reduction=reduction)
    return rows, F.cross_entropy(s.T, pair, reduction=reduction)


def _symmetric(s):
    rows, columns = _both_ways(s)
    return (rows + columns) / 2


def _over_the_whole_matrix(a, b, temperature):
    """One softmax over all N × N logits, read at the N matched pairs."""
    s = _cosine_logits(a, b, temperature)
    return -F.log_softmax(s.flatten(), dim=0).view(s.shape).diagonal().mean()


@exercise(
    cases=_info_nce_cases,
    compare=Parts(
        loss=_Loss(mean_over="the pairs"),
        gradient=Gradient(
            missing="your loss has the right value but no gradient: compute it with torch "
            "operations on a and b (no .item(), .detach() or NumPy)"
        ),
    ),
    mistakes=[
        Mistake(
            "That is one direction only, each a_i classified among the b's (the rows of s). "
            "Add the other, each b_j among the a's (the columns: cross-entropy of s.T), and "
            "average the two.",
            lambda a, b, t: _both_ways(_cosine_logits(a, b, t))[0],
        ),
        Mistake(
            "That is one direction only, each b_j classified among the a's (the columns of s). "
            "Add the other, each a_i among the b's (the rows), and average the two.",
            lambda a, b, t: _both_ways(_cosine_logits(a, b, t))[1],
        ),
        Mistake(
            "L2-normalize the rows of a and b first: the logits are cosine similarities "
            "divided by the temperature, not raw dot products.",
            lambda a, b, t: _symmetric(a @ b.T / t),
        ),
        Mistake(
            "Normalize each row to length 1 (a.norm(dim=1, keepdim=True)), not the whole "
            "matrix at once (a.norm()).",
            lambda a, b, t: _symmetric((a / a.norm()) @ (b / b.norm()).T / t),
        ),
        Mistake(
            "Normalize each embedding, a row of a and of b (dim=1), not each feature across "
            "the batch (dim=0).",
            lambda a, b, t: _symmetric(F.normalize(a, dim=0) @ F.normalize(b, dim=0).T / t),
        ),
        Mistake(
            "Divide the cosine similarities by the temperature, s = cos / τ (a small τ "
            "sharpens the softmax), do not multiply them.",
            lambda a, b, t: _symmetric(_cosine_logits(a, b, 1 / t)),
        ),
        Mistake(
            "The temperature is missing: divide the cosine similarities by τ.",
            lambda a, b, t: _symmetric(_cosine_logits(a, b, 1.0)),
        ),
        Mistake(
            "Divide the logits by τ before the cross-entropy, not the loss after it.",
            lambda a, b, t: _symmetric(_cosine_logits(a, b, 1.0)) / t,
        ),
        Mistake(
            "Normalize the rows of b too: both a and b are L2-normalized.",
            lambda a, b, t: _symmetric(F.normalize(a, dim=1) @ b.T / t),
        ),
        Mistake(
            "Average over the N pairs (F.cross_entropy's default), do not sum.",
            lambda a, b, t: sum(_both_ways(_cosine_logits(a, b, t), "sum")) / 2,
        ),
        Mistake(
            "Take the mean of the two directions, (rows + columns) / 2, not their sum.",
            lambda a, b, t: sum(_both_ways(_cosine_logits(a, b, t))),
        ),
        Mistake(
            "Each row, and each column, is a classification of its own: the softmax of row "
            "i runs over the N entries of row i, not over all N × N entries of s.",
            _over_the_whole_matrix,
        ),
        Mistake(
            "The loss needs the negatives: classify each a_i among all the b's with a "
            "cross-entropy, instead of only pulling a_i towards b_i (which any model "
            "minimizes by mapping every input to one point).",
            lambda a, b, t: -_cosine_logits(a, b, t).diagonal().mean(),
        ),
    ],
)
def info_nce(a, b, temperature):
    """Check ``fn(a (N, D), b (N, D), temperature)``: the symmetric InfoNCE loss, the mean of
    ``F.cross_entropy`` over the rows and over the columns of ``cos(a_i, b_j) / temperature``
    (values and gradients)."""
    return _symmetric(_cosine_logits(a, b, temperature))
