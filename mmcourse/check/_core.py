"""The engine every exercise checker runs on.

A checker runs the learner's code on cases the learner does not see. It either prints one line
saying that every case passed, or raises ``CheckFailed`` (an ``AssertionError``) whose message
says exactly what went wrong: the case, what came back, what was expected, and a hint when the
mistake is a common one. Whatever the learner's code does (raise, return the wrong type, shape
or device, return NaN) becomes such a message; a checker never crashes with an error of its own.

Most checkers are declarations, a :class:`Task` written as ``@exercise(cases=...,
mistakes=[...])`` on its reference implementation (PyTorch first, else the library): the hidden
cases, how to say a case in words (by default, its arguments by name), how to compare an answer
(:class:`Exact`, :class:`Close`, :class:`Parts`, :class:`Each`), and the typical mistakes, each a
small *wrong implementation* with the hint it earns. :func:`run` compares the learner's answers
with the reference case by case; at the first wrong one, the hint is that of the first mistake
that reproduces all the learner's answers from there on (else the wrong one alone). Because the
mistakes are implementations, the tests run each of them through its checker and expect its own
hint (tests/test_checkers.py): a hint is written once. Checkers that need more (training a
model, a vocabulary) are plain functions decorated with :func:`checker` and use the same helpers.
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
import re
import sys
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


def show_only_the_message(shell: Any = None) -> bool:
    """In a notebook, show a failed check as its message alone, not a traceback through the
    checker's own code: ``CheckFailed: for an input of shape ... expected ...``.

    Registers an IPython handler for ``CheckFailed`` when running under IPython (Jupyter,
    Colab); elsewhere does nothing. The cell still fails, with the same exception.
    """
    if shell is None:
        ipython = sys.modules.get("IPython")  # never import IPython just to look
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False

    def message(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None):
        # IPython calls this instead of showing anything itself: show the one line (as the
        # cell's error output, so a notebook runner still sees the cell fail with CheckFailed).
        lines = [f"\x1b[0;31m{etype.__name__}\x1b[0m: {value}"]
        shell._showtraceback(etype, value, lines)
        return lines

    shell.set_custom_exc((CheckFailed,), message)
    return True


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


def one_thread(func: Callable) -> Callable:
    """Run ``func`` on one CPU thread: for the small models a checker trains, more threads only
    wait on each other (and on a busy machine, a lot)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return func(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

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


def as_number(value: Any, case: str, what: str = "you returned") -> float:
    """``value`` as a float (a Python or NumPy number, or a one-element tensor), else feedback."""
    if isinstance(value, Tensor) and value.numel() == 1:
        return value.detach().to("cpu").reshape(()).item()
    numpy_number = type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0
    if isinstance(value, bool) or not (isinstance(value, int | float) or numpy_number):
        kind = type(value).__name__
        raise CheckFailed(f"{case}: {what} {value!r:.60} (a {kind}); expected a number")
    return float(value)


def passed(name: str, n_cases: int) -> None:
    """Tell the learner that every hidden case passed."""
    print(f"✓ {name}: correct on all {n_cases} hidden test cases.")


def leaves(value: Any, change: Callable[[Any], Any]) -> Any:
    """``value`` (nested tuples, lists and dicts) with ``change`` applied to each leaf."""
    if isinstance(value, list | tuple):
        return type(value)(leaves(v, change) for v in value)
    if isinstance(value, dict):
        return {k: leaves(v, change) for k, v in value.items()}
    return change(value)


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
        return as_number(value, case, what)

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


@dataclass
class Gradient(Close):
    """``d answer.sum() / d input`` for the case input that requires grad (see :class:`Task`);
    ``missing`` says what to do when the answer has no gradient."""

    missing: str = "your result has no gradient: compute it with torch operations on the inputs"

    def convert(self, value: Any, expected: Any, case: str, what: str = "") -> Any:
        return value

    def same(self, value: Any, expected: Any) -> bool:
        if value is None or expected is None:  # no gradient: the same only as no gradient
            return value is expected
        return super().same(value, expected)

    def explain(self, value: Any, expected: Any, case: str, what: str = "") -> str:
        if value is None:
            return f"{case}: {self.missing}"
        return super().explain(value, expected, case, "your gradient")


class Parts:
    """A tuple of named parts, each compared its own way, e.g. ``(h', c')`` or a pair of ints."""

    def __init__(self, **parts: Any) -> None:
        self.parts = parts

    def named(self, expected: Sequence) -> dict[str, Any]:
        """The name and the comparison of each part of ``expected``."""
        return self.parts

    def convert(self, value: Any, expected: Any, case: str, what: str = "you returned") -> Any:
        parts = self.named(expected)
        wanted = f"{len(parts)} values ({', '.join(parts)})"
        if not isinstance(value, tuple | list):
            kind = type(value).__name__
            raise CheckFailed(f"{case}: {what} {value!r:.80} (a {kind}); expected {wanted}")
        if len(value) != len(parts):
            raise CheckFailed(f"{case}: {what} {len(value)} values; expected {wanted}")
        return tuple(
            compare.convert(v, e, case, f"as {name} you returned")
            for (name, compare), v, e in zip(parts.items(), value, expected, strict=True)
        )

    def same(self, value: Any, expected: Any) -> bool:
        compares = self.named(expected).values()
        return all(c.same(v, e) for c, v, e in zip(compares, value, expected, strict=True))

    def explain(self, value: Any, expected: Any, case: str, what: str = "") -> str:
        parts = self.named(expected)
        for (name, compare), v, e in zip(parts.items(), value, expected, strict=True):
            if not compare.same(v, e):
                return compare.explain(v, e, case, f"your {name}")
        return f"{case}: wrong answer"


class Each(Parts):
    """A list whose items are compared alike, e.g. ``Each(gradient=Close())``, one per parameter."""

    def named(self, expected: Sequence) -> dict[str, Any]:
        ((name, compare),) = self.parts.items()
        return {f"{name} {k}": compare for k in range(len(expected))}


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


Hint = str | Callable[..., str]  # a hint, or a function of the case's arguments that writes it


@dataclass
class Mistake:
    """A typical wrong answer, as the implementation it amounts to, and what to tell its author."""

    hint: Hint
    answer: Callable[..., Any]


@dataclass
class Task:
    """One exercise: hidden cases, the right answer, how to compare, and the typical mistakes.

    ``describe(*args, **kwargs)`` says a case in words ("for an input of shape (2, 3)"). A hint
    is a string or a function of the case's arguments. ``shape_hint`` is said about an answer of
    the wrong shape that no mistake explains; ``error_hints`` are ``(pattern, hint)`` pairs, the
    hint said when the learner's code raises an error whose message matches the pattern (a
    regular expression). A case input that requires grad makes the answer the pair ``(answer,
    d answer.sum() / d input)``, compared e.g. with ``Parts(loss=Close(), gradient=Gradient())``.
    """

    name: str
    cases: Callable[[], list[Case]]
    reference: Callable[..., Any]
    describe: Callable[..., str]
    compare: Exact | Close | Parts = field(default_factory=Close)
    mistakes: list[Mistake] = field(default_factory=list)
    shape_hint: Hint | None = None
    error_hints: list[tuple[str, Hint]] = field(default_factory=list)


def say(hint: Hint, c: Case) -> str:
    """The text of ``hint`` for case ``c``."""
    return hint(*c.args, **c.kwargs) if callable(hint) else hint


def _copy(value: Any) -> Any:
    """A copy of the tensors in ``value``, so that no code can change a case for the next one."""
    return leaves(
        value,
        lambda v: v.detach().clone().requires_grad_(v.requires_grad) if torch.is_tensor(v) else v,
    )


def _gradient(answer: Any, x: Tensor) -> Tensor | None:
    """``d answer.sum() / d x``, or None when autograd does not lead from ``answer`` to ``x``."""
    if not (isinstance(answer, Tensor) and answer.requires_grad):
        return None
    try:
        return torch.autograd.grad(answer.sum(), x, allow_unused=True)[0]
    except RuntimeError:  # e.g. an answer on another device: reported by the comparison
        return None


def _apply(fn: Callable, c: Case) -> Any:
    """``fn`` on a copy of case ``c``, with its gradient if an input requires grad."""
    args, kwargs = _copy(c.args), _copy(c.kwargs)
    answer = fn(*args, **kwargs)
    inputs = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
    return (answer, _gradient(answer, inputs[0])) if inputs else answer


def _learner(fn: Any, task: Task, c: Case) -> Any:
    """The learner's answer to case ``c``; an error it raises is feedback, with its hint."""
    description = task.describe(*c.args, **c.kwargs)
    try:
        return _apply(functools.partial(call, fn, task.name, description), c)
    except CheckFailed as failure:
        raised = str(failure).partition(f"your {task.name} raised ")[2]  # empty if it did not
        hints = [h for pattern, h in task.error_hints if raised and re.search(pattern, raised)]
        raise CheckFailed(f"{failure}. {say(hints[0], c)}" if hints else str(failure)) from None


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


def _wrong_shape(value: Any, expected: Any) -> bool:
    """Whether a tensor in ``value`` has another shape than the one in its place in ``expected``."""
    if isinstance(value, Tensor) and isinstance(expected, Tensor):
        return value.shape != expected.shape
    if isinstance(value, tuple | list) and isinstance(expected, tuple | list):
        return any(map(_wrong_shape, value, expected))
    return False


def _hint(task: Task, cases: list[Case], answers: list) -> str:
    """The hint of the first mistake that gives all the learner's ``answers``, else the first.

    ``answers[0]``, the wrong one, answers ``cases[0]``; the others answer the cases after it.
    """
    for count in (len(answers), 1):
        for mistake in task.mistakes:
            if _reproduces(task, mistake, cases[:count], answers[:count]):
                return say(mistake.hint, cases[0])
    wrong_shape = _wrong_shape(answers[0], _apply(task.reference, cases[0]))
    return say(task.shape_hint, cases[0]) if task.shape_hint and wrong_shape else ""


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


def describe_arguments(reference: Callable) -> Callable[..., str]:
    """Say a case by the names of ``reference``'s arguments: a tensor by its shape (a small one of
    ints or bools by its values), a list of tensors by their shapes, anything else by its value,
    as in "for x of shape (2, 3, 5), lengths [3, 1], stride=2"."""
    signature = inspect.signature(reference)

    def said(name: str, value: Any) -> str:
        if isinstance(value, Tensor):
            if value.numel() <= 12 and not value.is_floating_point():
                return f"{name} {value.tolist()}"
            return f"{name} of shape {tuple(value.shape)}"
        if isinstance(value, list | tuple) and value and all(map(torch.is_tensor, value)):
            return f"{name} of shapes {', '.join(str(tuple(v.shape)) for v in value)}"
        return f"{name}={value!r}"

    def describe(*args: Any, **kwargs: Any) -> str:
        arguments = signature.bind(*args, **kwargs).arguments
        return "for " + ", ".join(said(name, value) for name, value in arguments.items())

    return describe


def exercise(**task: Any) -> Callable[[Callable], Callable[[Any], None]]:
    """``@exercise(cases=..., mistakes=[...])`` on a reference implementation: the checker of that
    :class:`Task`, ``check.<name>(your_function)``, named after the reference and documented by
    its docstring. Without ``describe=``, a case is said by its arguments."""

    def declare(reference: Callable) -> Callable[[Any], None]:
        task.setdefault("describe", describe_arguments(reference))
        declared = Task(name=reference.__name__, reference=reference, **task)

        def check(fn: Any) -> None:
            run(declared, fn)

        check.__name__ = check.__qualname__ = declared.name
        check.__doc__ = reference.__doc__
        wrapped = checker(check)
        wrapped.task = declared  # type: ignore[attr-defined] (read by the tests)
        return wrapped

    return declare
