"""The engine every exercise checker runs on.

A checker runs the learner's code on cases the learner does not see. It either prints one line
saying which cases passed, or raises ``CheckFailed`` (an ``AssertionError``) whose message says
exactly what went wrong: the case, what came back, what was expected, and a hint when the
mistake is a common one. Whatever the learner's code does (raise, return the wrong type, shape
or device, return NaN) becomes such a message; a checker never crashes with an error of its own.

Most checkers are declarations, a :class:`Task`: the hidden cases, a reference implementation
(PyTorch first, else the library), how to compare an answer (:class:`Exact`, :class:`Close`,
:class:`Parts`), and the typical mistakes, each a small *wrong implementation* with the hint it
earns. :func:`run` compares the learner's answers with the reference case by case; at the first
wrong one, the hint is that of the first mistake that reproduces all the learner's answers from
there on (else the wrong one alone). Because the mistakes are implementations, the tests run
each of them through its checker and expect its own hint (tests/test_checkers.py): a hint is
written once. Checkers that need more (training a model, a vocabulary) are plain functions
decorated with :func:`checker` and use the same helpers.
"""

from __future__ import annotations

import functools
import math
import operator
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

_LIBRARY = str(Path(__file__).resolve().parents[1])


class CheckFailed(AssertionError):
    """The learner's answer is wrong; the message says how."""


def checker(func: Callable) -> Callable:
    """Mark a function as a checker: any unexpected error inside it becomes feedback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841 (read by IPython and pytest to shorten tracebacks)
        try:
            func(*args, **kwargs)
        except CheckFailed as failure:
            raise CheckFailed(str(failure)) from None
        except Exception as error:  # a bug in the checker or an answer it could not handle
            raise CheckFailed(
                f"{func.__name__}: could not check your answer ({type(error).__name__}: {error})"
            ) from None

    return wrapper


def _where(error: BaseException) -> str:
    """The last line of the learner's own code in a traceback (not the library's)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _LIBRARY not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (in `{frame.line}`)" if frame.line else f" (line {frame.lineno})"


def _stub_name(error: BaseException, fn: Any, name: str) -> str:
    """Which function is still a stub: ``name`` itself, or another one that it calls."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    if code is None or code is getattr(fn, "__code__", None) or _LIBRARY in code.co_filename:
        return name
    return f"{code.co_name} (which your {name} calls)"


def call(fn: Any, name: str, case: str, *args, **kwargs) -> Any:
    """Call the learner's ``fn``; turn a stub or an exception into feedback."""
    if not callable(fn):
        raise CheckFailed(f"expected {name} to be a function, got {type(fn).__name__} {fn!r:.60}")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as error:
        raise CheckFailed(
            f"{_stub_name(error, fn, name)} is not written yet: it still raises "
            "NotImplementedError. Replace the stub with your code, run its cell, then run this "
            "check again."
        ) from None
    except Exception as error:
        raise CheckFailed(
            f"{case}: your {name} raised {type(error).__name__}: {error}{_where(error)}"
        ) from None


def as_int(value: Any, case: str, expected: Any = None, what: str = "you returned") -> int:
    """``value`` as an int (Python or NumPy integer, or a 0-d integer tensor), else feedback."""
    wanted = "an int" if expected is None else f"the int {expected}"
    if isinstance(value, bool):
        raise CheckFailed(f"{case}: {what} the bool {value}; expected {wanted}")
    if isinstance(value, Tensor) and value.dim() == 0 and not value.is_floating_point():
        return int(value.item())
    try:
        return operator.index(value)
    except TypeError:
        kind = type(value).__name__
        raise CheckFailed(f"{case}: {what} {value!r:.60} (a {kind}); expected {wanted}") from None


def as_tensor(value: Any, case: str, what: str = "you returned") -> Tensor:
    """``value`` if it is a tensor, else feedback naming what it is."""
    if not isinstance(value, Tensor):
        raise CheckFailed(f"{case}: {what} a {type(value).__name__}; expected a torch.Tensor")
    return value


def passed(name: str, n_cases: int) -> None:
    """Tell the learner that every hidden case passed."""
    print(f"✓ {name}: correct on all {n_cases} hidden test cases.")


# ---------------------------------------------------------------------------------------------
# How to compare an answer with the expected one


class Exact:
    """An int that must equal the expected one (a count, a size, an index)."""

    def convert(self, value: Any, expected: Any, case: str, what: str = "you returned") -> Any:
        return as_int(value, case, expected, what)

    def same(self, value: Any, expected: Any) -> bool:
        return value == expected

    def explain(self, value: Any, expected: Any, case: str, what: str = "you returned") -> str:
        return f"{case}: {what} {value}, expected {expected}"


@dataclass
class Close:
    """A number or a tensor equal to the expected one within ``atol + rtol * |expected|``.

    A tensor answer must have the expected shape and device; a number may be a Python float
    or int, a NumPy number or a one-element tensor.
    """

    atol: float = 1e-4
    rtol: float = 1e-4

    def convert(self, value: Any, expected: Any, case: str, what: str = "you returned") -> Any:
        if isinstance(expected, Tensor):
            value = as_tensor(value, case, what)
            if value.device != expected.device:
                raise CheckFailed(
                    f"{case}: {what} a tensor on device {value.device}, expected one on "
                    f"{expected.device}, the device of the inputs"
                )
            return value.detach()
        if isinstance(value, Tensor) and value.numel() == 1:
            return value.detach().to("cpu").reshape(()).item()
        numpy_number = type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0
        if isinstance(value, bool) or not (isinstance(value, int | float) or numpy_number):
            raise CheckFailed(
                f"{case}: {what} {value!r:.60} (a {type(value).__name__}); expected a number"
            )
        return float(value)

    def same(self, value: Any, expected: Any) -> bool:
        if isinstance(expected, Tensor):
            if not isinstance(value, Tensor) or value.shape != expected.shape:
                return False
            a, b = value.to("cpu", torch.float64), expected.to("cpu", torch.float64)
            return bool(torch.allclose(a, b, atol=self.atol, rtol=self.rtol, equal_nan=True))
        if math.isnan(value) and math.isnan(expected):
            return True
        return math.isclose(value, expected, rel_tol=self.rtol, abs_tol=self.atol)

    def explain(self, value: Any, expected: Any, case: str, what: str = "your result") -> str:
        if not isinstance(expected, Tensor):
            return f"{case}: {what} is {value:.6g}, expected {expected:.6g}"
        if tuple(value.shape) != tuple(expected.shape):
            shapes = f"{tuple(value.shape)}, expected {tuple(expected.shape)}"
            return f"{case}: {what} has shape {shapes}"
        value = value.to("cpu", torch.float64)
        expected = expected.to("cpu", torch.float64)
        if not torch.isfinite(value).all():
            return f"{case}: {what} contains NaN or infinity"
        error = (value - expected).abs()
        worst = tuple(int(i) for i in torch.unravel_index(error.argmax(), error.shape))
        return (
            f"{case}: {what} has wrong values; at index {worst} you have "
            f"{value[worst].item():.4f}, expected {expected[worst].item():.4f} "
            f"(largest error {error.max().item():.3g})"
        )


class Parts:
    """A tuple of named parts, each compared its own way, e.g. ``(h', c')`` or a pair of ints."""

    def __init__(self, **parts: Exact | Close) -> None:
        self.parts = parts

    def convert(self, value: Any, expected: Any, case: str, what: str = "you returned") -> Any:
        names = ", ".join(self.parts)
        if not isinstance(value, tuple | list) or len(value) != len(self.parts):
            got = f"{value!r:.80} (a {type(value).__name__})"
            raise CheckFailed(f"{case}: {what} {got}; expected a tuple ({names})")
        return tuple(
            compare.convert(v, e, case, f"as {name} you returned")
            for (name, compare), v, e in zip(self.parts.items(), value, expected, strict=True)
        )

    def same(self, value: Any, expected: Any) -> bool:
        return all(
            c.same(v, e) for c, v, e in zip(self.parts.values(), value, expected, strict=True)
        )

    def explain(self, value: Any, expected: Any, case: str, what: str = "") -> str:
        for (name, compare), v, e in zip(self.parts.items(), value, expected, strict=True):
            if not compare.same(v, e):
                return compare.explain(v, e, case, f"your {name}")
        return f"{case}: wrong answer"


# ---------------------------------------------------------------------------------------------
# Checkers as declarations


@dataclass
class Case:
    """The arguments of one hidden case."""

    args: tuple
    kwargs: dict = field(default_factory=dict)


def case(*args: Any, **kwargs: Any) -> Case:
    """``case(x, w, stride=2)``: one hidden case, called as ``fn(x, w, stride=2)``."""
    return Case(args, kwargs)


@dataclass
class Mistake:
    """A typical wrong answer, as the implementation it amounts to, and what to tell its author."""

    hint: str
    answer: Callable[..., Any]


@dataclass
class Task:
    """One exercise: hidden cases, the right answer, how to compare, and the typical mistakes.

    ``describe(*args, **kwargs)`` says a case in words ("for an input of shape (2, 3)"), and
    ``shape_hint(*args, **kwargs)``, when given, what to say about a tensor of the wrong shape
    that no listed mistake explains.
    """

    name: str
    cases: Callable[[], list[Case]]
    reference: Callable[..., Any]
    describe: Callable[..., str]
    compare: Exact | Close | Parts = field(default_factory=Close)
    mistakes: list[Mistake] = field(default_factory=list)
    shape_hint: Callable[..., str] | None = None


def _copy(value: Any) -> Any:
    """A copy of the tensors in ``value``, so that no code can change a case for the next one."""
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, list | tuple):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _apply(fn: Callable, c: Case) -> Any:
    return fn(*_copy(c.args), **_copy(c.kwargs))


def _learner(fn: Any, task: Task, c: Case) -> Any:
    description = task.describe(*c.args, **c.kwargs)
    return call(fn, task.name, description, *_copy(c.args), **_copy(c.kwargs))


def _reproduces(task: Task, mistake: Mistake, cases: Sequence[Case], answers: Sequence) -> bool:
    """Whether ``mistake`` gives the learner's ``answers`` on the first cases of ``cases``."""
    for c, answer in zip(cases, answers, strict=False):
        try:
            wrong = task.compare.convert(_apply(mistake.answer, c), answer, "")
            if not task.compare.same(answer, wrong):
                return False
        except Exception:  # that mistake is impossible for this case
            return False
    return True


def _hint(task: Task, cases: list[Case], answers: list) -> str:
    """The hint of the first mistake that gives all the learner's ``answers``, else the first.

    ``answers[0]``, the wrong one, answers ``cases[0]``; the others answer the cases after it.
    """
    for count in (len(answers), 1):
        for mistake in task.mistakes:
            if _reproduces(task, mistake, cases[:count], answers[:count]):
                return mistake.hint
    c, answer = cases[0], answers[0]
    expected = _apply(task.reference, c)
    wrong_shape = isinstance(answer, Tensor) and answer.shape != expected.shape
    if task.shape_hint is not None and wrong_shape:
        return task.shape_hint(*c.args, **c.kwargs)
    return ""


def run(task: Task, fn: Any) -> None:
    """Check ``fn`` on every case of ``task``; print one line, or raise ``CheckFailed``.

    At the first wrong answer, the learner's answers to the cases after it are collected too
    (as far as their code runs), so that a hint is chosen on as many answers as possible.
    """
    cases = task.cases()
    for i, c in enumerate(cases):
        description = task.describe(*c.args, **c.kwargs)
        expected = _apply(task.reference, c)
        answer = task.compare.convert(_learner(fn, task, c), expected, description)
        if task.compare.same(answer, expected):
            continue
        answers = [answer]
        for later in cases[i + 1 :]:
            try:
                right = _apply(task.reference, later)
                answers.append(task.compare.convert(_learner(fn, task, later), right, ""))
            except CheckFailed:
                break
        hint = _hint(task, cases[i:], answers)
        raise CheckFailed(
            task.compare.explain(answer, expected, description) + (f". {hint}" if hint else "")
        )
    passed(task.name, len(cases))


def make_checker(task: Task, doc: str) -> Callable[[Any], None]:
    """The public checker of ``task``: ``check.<name>(your_function)``."""

    def check(fn: Any) -> None:
        run(task, fn)

    check.__name__ = check.__qualname__ = task.name
    check.__doc__ = doc
    wrapped = checker(check)
    wrapped.task = task  # type: ignore[attr-defined] (read by the tests)
    return wrapped
