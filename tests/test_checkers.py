"""Every exercise checker, tested from its own declaration.

The checkers are taken from ``mmcourse.check.__all__``, so a new chapter's checkers are covered
as soon as they are exported. For a declared checker (one built from a ``Task``):

- its reference passes;
- each of its typical mistakes fails, with that mistake's own hint;
- an answer that is NaN, of the wrong type, or a tensor on the wrong device is feedback.

For every checker, declared or custom: a stub says "not written yet", something that is not an
answer (None, a number, a string) and an answer that returns None are feedback, and an exception
in the learner's code is reported with its type. Custom checkers (training a model, building a
vocabulary) have their own right and wrong answers in tests/test_check_custom.py.
"""

from __future__ import annotations

import math
import re

import pytest
import torch

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.check._core import Close, Exact, Parts, Task

CHECKERS = [getattr(check, name) for name in check.__all__ if name != "CheckFailed"]
TASKS = [c.task for c in CHECKERS if hasattr(c, "task")]
MISTAKES = [(task, i) for task in TASKS for i in range(len(task.mistakes))]


def _name(item) -> str:
    return item.__name__ if callable(item) else item.name


def stub(*args, **kwargs):
    raise NotImplementedError("replace this line with your code")


def checker_of(task: Task):
    return getattr(check, task.name)


def answer_like(task: Task, change):
    """An answer that returns the reference's output with ``change`` applied to it."""

    def answer(*args, **kwargs):
        return change(task.compare, task.reference(*args, **kwargs))

    return answer


def poisoned(compare, value):
    """NaN in place of every number of ``value``."""
    if isinstance(compare, Parts):
        return tuple(poisoned(c, v) for c, v in zip(compare.parts.values(), value, strict=True))
    if isinstance(value, torch.Tensor):
        return torch.full_like(value, math.nan, dtype=torch.float64)
    return math.nan


def on_meta(compare, value):
    if isinstance(compare, Parts):
        return tuple(on_meta(c, v) for c, v in zip(compare.parts.values(), value, strict=True))
    return value.to("meta") if isinstance(value, torch.Tensor) else value


def returns_tensor(task: Task) -> bool:
    compare = task.compare
    parts = compare.parts.values() if isinstance(compare, Parts) else [compare]
    first = task.cases()[0]
    out = task.reference(*first.args, **first.kwargs)
    out = out if isinstance(compare, Parts) else (out,)
    return any(isinstance(o, torch.Tensor) for c, o in zip(parts, out, strict=True))


def test_the_declarations_are_well_formed():
    assert len(CHECKERS) >= 25
    for checker in CHECKERS:
        assert callable(checker) and hasattr(checker, "__wrapped__"), (
            f"check.{_name(checker)} is not decorated with @checker"
        )
    for task in TASKS:
        assert isinstance(task.compare, Exact | Close | Parts)
        assert task.cases(), task.name
        hints = [m.hint for m in task.mistakes]
        assert len(set(hints)) == len(hints), f"{task.name} has a hint twice"


@pytest.mark.parametrize("task", TASKS, ids=_name)
def test_the_reference_passes(task, capsys):
    checker_of(task)(task.reference)
    assert f"✓ {task.name}: correct on all {len(task.cases())}" in capsys.readouterr().out


@pytest.mark.parametrize(("task", "index"), MISTAKES, ids=lambda x: str(getattr(x, "name", x)))
def test_each_mistake_fails_with_its_own_hint(task, index):
    mistake = task.mistakes[index]
    with pytest.raises(CheckFailed, match=re.escape(mistake.hint)):
        checker_of(task)(mistake.answer)


@pytest.mark.parametrize("task", TASKS, ids=_name)
def test_nan_is_feedback(task):
    with pytest.raises(CheckFailed):
        checker_of(task)(answer_like(task, poisoned))


@pytest.mark.parametrize("task", [t for t in TASKS if returns_tensor(t)], ids=_name)
def test_a_tensor_on_another_device_is_feedback(task):
    with pytest.raises(CheckFailed, match="device meta"):
        checker_of(task)(answer_like(task, on_meta))


@pytest.mark.parametrize("task", TASKS, ids=_name)
def test_an_answer_of_the_wrong_type_is_feedback(task):
    with pytest.raises(CheckFailed, match="str"):
        checker_of(task)(lambda *args, **kwargs: "42")


@pytest.mark.parametrize("checker", CHECKERS, ids=_name)
def test_stub_is_reported_as_not_written(checker):
    with pytest.raises(CheckFailed, match="not written yet"):
        checker(stub)


@pytest.mark.parametrize("checker", CHECKERS, ids=_name)
@pytest.mark.parametrize("answer", [None, 3, "answer"], ids=["None", "int", "str"])
def test_something_that_is_not_an_answer_is_feedback(checker, answer):
    with pytest.raises(CheckFailed):
        checker(answer)


@pytest.mark.parametrize("checker", CHECKERS, ids=_name)
def test_returning_none_is_feedback(checker):
    with pytest.raises(CheckFailed):
        checker(lambda *args, **kwargs: None)


@pytest.mark.parametrize("checker", CHECKERS, ids=_name)
def test_an_exception_in_the_learner_code_is_feedback(checker):
    def broken(*args, **kwargs):
        return [][1]

    with pytest.raises(CheckFailed, match="IndexError"):
        checker(broken)


def test_a_stub_called_by_a_written_function_is_named():
    def hz_to_mel(f):
        raise NotImplementedError

    def mel_filterbank(*args, **kwargs):
        return hz_to_mel(args)

    with pytest.raises(CheckFailed, match=r"^hz_to_mel \(which your mel_filterbank calls\)"):
        check.mel_filterbank(mel_filterbank)
