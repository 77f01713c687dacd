"""Checker for the cross-entropy exercise (exercises/03_pooling_cnn.md), on ``mmcourse.losses``.

The loss must be right and so must its gradient: every answer (the reference, the learner's,
each typical mistake) goes through :func:`_loss_and_gradient`, which returns the loss and
``d loss / d logits``, or, instead of the gradient, the sentence saying why there is none.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F

from mmcourse.check._core import (
    CheckFailed,
    Close,
    Mistake,
    Parts,
    Task,
    as_tensor,
    case,
    checker,
    run,
)


def _loss_and_gradient(fn):
    """``fn(logits, target) -> loss`` as a function returning ``(loss, d loss / d logits)``."""

    def answer(logits, target):
        logits = logits.requires_grad_()
        loss = fn(logits, target)
        tensor = isinstance(loss, torch.Tensor) and loss.device == logits.device
        if not (tensor and loss.requires_grad):  # (a wrong device is reported with the loss)
            return loss, (
                "your loss has the right value but no gradient: compute it with torch "
                "operations on the logits (no .item(), .detach() or NumPy)"
            )
        (grad,) = torch.autograd.grad(loss.sum(), logits, allow_unused=True)
        return loss, "your loss does not depend on the logits" if grad is None else grad

    return answer


class _Loss(Close):
    """The loss: a finite tensor holding one number (a Python number cannot be backpropagated)."""

    def convert(self, value: Any, expected: Any, case: str, what: str = "") -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise CheckFailed(
                f"{case}: you returned the Python number {value!r}; return a tensor "
                "(no .item()), so that the loss can be backpropagated"
            )
        if as_tensor(value, case).numel() != 1:
            raise CheckFailed(
                f"{case}: your result has shape {tuple(value.shape)}, expected a single "
                "number (a 0-d tensor): the mean over the samples"
            )
        value = super().convert(value, expected, case).reshape(())
        if not torch.isfinite(value):
            raise CheckFailed(
                f"{case}: your loss is {value.item()}. exp() overflows for large "
                "logits: subtract each row's maximum first (the log-sum-exp trick), "
                "log sum_k exp(z_k) = m + log sum_k exp(z_k - m)"
            )
        return value

    def explain(self, value: Any, expected: Any, case: str, what: str = "") -> str:
        return super().explain(value.item(), expected.item(), case, "your loss")


class _Gradient(Close):
    """``d loss / d logits``, or the sentence saying why the loss has none."""

    def convert(self, value: Any, expected: Any, case: str, what: str = "") -> Any:
        return value if isinstance(value, str) else value.detach()

    def same(self, value: Any, expected: Any) -> bool:
        tensors = isinstance(value, torch.Tensor) and isinstance(expected, torch.Tensor)
        return tensors and super().same(value, expected)

    def explain(self, value: Any, expected: Any, case: str, what: str = "") -> str:
        if isinstance(value, str):
            return f"{case}: {value}"
        return super().explain(value, expected, case, "your gradient")


def _ce_cases():
    g = torch.Generator().manual_seed(6)
    cases = []
    for n, k, scale in [(4, 10, 1.0), (1, 10, 2.0), (7, 3, 1.0), (16, 2, 3.0), (5, 10, 500.0)]:
        logits = scale * torch.randn(n, k, generator=g)
        cases.append(case(logits, torch.randint(0, k, (n,), generator=g)))
    return cases


def _right_class_probability(logits, target):
    return F.softmax(logits, dim=1)[torch.arange(len(target)), target]


_TASK = Task(  # the task as the learner writes it: fn(logits, target) -> loss
    name="cross_entropy",
    cases=_ce_cases,
    reference=F.cross_entropy,
    describe=lambda logits, target: (
        f"for logits of shape {tuple(logits.shape)}"
        + (" (large logits)" if logits.abs().max() > 100 else "")
    ),
    mistakes=[
        Mistake(
            "You normalized over the samples of the batch (dim=0). The softmax of sample i "
            "sums over its classes: logsumexp over dim=1 (erratum E12).",
            lambda logits, target: -F.log_softmax(logits, dim=0)[range(len(target)), target].mean(),
        ),
        Mistake(
            "Average over the samples (divide by N), as F.cross_entropy does by default.",
            lambda logits, target: F.cross_entropy(logits, target, reduction="sum"),
        ),
        Mistake(
            "Cross-entropy is the *negative* mean log-probability of the right class.",
            lambda logits, target: -F.cross_entropy(logits, target),
        ),
        Mistake(
            "Take the log of the right class's probability: -log p[i, y[i]], averaged.",
            lambda logits, target: -_right_class_probability(logits, target).mean(),
        ),
        Mistake(
            "Take the log of the right class's probability: -log p[i, y[i]], averaged "
            "(not 1 - p[i, y[i]]).",
            lambda logits, target: 1 - _right_class_probability(logits, target).mean(),
        ),
    ],
)

_WITH_GRADIENT = dataclasses.replace(  # the task the checker runs: (loss, d loss / d logits)
    _TASK,
    reference=_loss_and_gradient(_TASK.reference),
    compare=Parts(loss=_Loss(), gradient=_Gradient()),
    mistakes=[Mistake(m.hint, _loss_and_gradient(m.answer)) for m in _TASK.mistakes],
)


@checker
def cross_entropy(fn: Any) -> None:
    """Check ``fn(logits, target)`` against ``F.cross_entropy`` (values and gradients)."""
    run(_WITH_GRADIENT, _loss_and_gradient(fn) if callable(fn) else fn)


cross_entropy.task = _TASK  # type: ignore[attr-defined] (read by the tests)
