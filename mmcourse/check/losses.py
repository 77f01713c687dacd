"""Checker for the cross-entropy exercise (exercises/03_pooling_cnn.md), on ``mmcourse.losses``.

The loss must be right and so must its gradient: the logits of every case require grad, so that
the engine compares ``d loss / d logits`` too.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mmcourse.check import _core
from mmcourse.check._core import Close, Gradient, Mistake, Parts, case, exercise


class _Loss(Close):
    """The loss: a finite tensor holding one number (a Python number cannot be backpropagated)."""

    def convert(self, value: Any, expected: Any, case: str, what: str = "") -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise _core.CheckFailed(
                f"{case}: you returned the Python number {value!r}; return a tensor "
                "(no .item()), so that the loss can be backpropagated"
            )
        if _core.as_tensor(value, case).numel() != 1:
            raise _core.CheckFailed(
                f"{case}: your result has shape {tuple(value.shape)}, expected a single "
                "number (a 0-d tensor): the mean over the samples"
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
