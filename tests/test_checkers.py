"""Every exercise checker, tested from its own declaration.

The checkers are taken from ``mmcourse.check.__all__``, so a new chapter's checkers are covered
as soon as they are exported. For a declared checker (one built from a ``Task``):

- its reference passes, and so does the library's own function of that name, if there is one;
- each of its typical mistakes fails, with that mistake's own hint (written for the failing case);
- an answer of the wrong shape gets the task's shape hint, an error the hint declared for it, and
  an answer without a gradient, where one is checked, what to do about it;
- an answer that is NaN, of the wrong type, or a tensor on the wrong device is feedback.

For every checker, declared or custom: a stub says "not written yet", something that is not an
answer (None, a number, a string) and an answer that returns None are feedback, and an exception
in the learner's code is reported with its type. Custom checkers (training a model, building a
vocabulary) have their own right and wrong answers in tests/test_check_<module>.py.
"""

from __future__ import annotations

import importlib
import math
import re

import pytest
import torch

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.check._core import Close, Exact, Gradient, Parts, Task, leaves, say

CHECKERS = [getattr(check, name) for name in check.__all__ if name != "CheckFailed"]
TASKS = [c.task for c in CHECKERS if hasattr(c, "task")]
MISTAKES = [(task, i) for task in TASKS for i in range(len(task.mistakes))]
ERRORS = [(task, i) for task in TASKS for i in range(len(task.error_hints))]


def _name(item) -> str:
    return item.__name__ if callable(item) else item.name


def _library(task: Task):
    """The library's function that ``task`` checks (``check.conv`` checks ``mmcourse.conv``)."""
    try:
        module = importlib.import_module(task.reference.__module__.replace(".check.", "."))
    except ImportError:  # chapter 10 has no library module of its own
        return None
    return getattr(module, task.name, None)


def stub(*args, **kwargs):
    raise NotImplementedError("replace this line with your code")


def broken(*args, **kwargs):
    return [][1]


def checker_of(task: Task):
    return getattr(check, task.name)


def answer_like(task: Task, change):
    """An answer that returns the reference's output with ``change`` applied to each number."""
    return lambda *args, **kwargs: leaves(task.reference(*args, **kwargs), change)


def nan(value):
    if isinstance(value, torch.Tensor):
        return torch.full_like(value, math.nan, dtype=torch.float64)
    return math.nan if isinstance(value, int | float) else value


def tensors(change):
    """``change`` applied to a tensor; anything else left as it is."""
    return lambda value: change(value) if torch.is_tensor(value) else value


def gradients(task: Task) -> list[Gradient]:
    parts = task.compare.parts.values() if isinstance(task.compare, Parts) else []
    return [c for c in parts if isinstance(c, Gradient)]


def returns_tensor(task: Task) -> bool:
    first = task.cases()[0]
    found = []
    leaves(task.reference(*first.args, **first.kwargs), lambda v: found.append(torch.is_tensor(v)))
    return any(found)


def failing_case(task: Task, message: str):
    """The case a failure message is about: it starts with that case's description."""
    described = {task.describe(*c.args, **c.kwargs): c for c in task.cases()}
    return described[max((d for d in described if message.startswith(d)), key=len)]


def test_the_declarations_are_well_formed():
    assert len(CHECKERS) >= 25
    for checker in CHECKERS:
        assert callable(checker) and hasattr(checker, "__wrapped__"), (
            f"check.{_name(checker)} is not decorated with @checker"
        )
    for task in TASKS:
        assert isinstance(task.compare, Exact | Close | Parts)
        assert task.cases(), task.name
        hints = [m.hint for m in task.mistakes if isinstance(m.hint, str)]
        assert len(set(hints)) == len(hints), f"{task.name} has a hint twice"


@pytest.mark.parametrize("task", TASKS, ids=_name)
def test_the_reference_passes(task, capsys):
    checker_of(task)(task.reference)
    assert f"✓ {task.name}: correct on all {len(task.cases())}" in capsys.readouterr().out


@pytest.mark.parametrize("task", [t for t in TASKS if _library(t)], ids=_name)
def test_the_library_function_passes(task, capsys):
    checker_of(task)(_library(task))
    assert f"✓ {task.name}: correct on all" in capsys.readouterr().out


@pytest.mark.parametrize(("task", "index"), MISTAKES, ids=lambda x: str(getattr(x, "name", x)))
def test_each_mistake_fails_with_its_own_hint(task, index):
    mistake = task.mistakes[index]
    with pytest.raises(CheckFailed) as failure:
        checker_of(task)(mistake.answer)
    message = str(failure.value)
    assert message.endswith(say(mistake.hint, failing_case(task, message)))


@pytest.mark.parametrize("task", [t for t in TASKS if t.shape_hint], ids=_name)
def test_a_wrong_shape_gets_the_shape_hint(task):
    one_row_more = tensors(lambda value: torch.cat([value, value[:1]]))
    with pytest.raises(CheckFailed, match=r"has shape .*\. ") as failure:
        checker_of(task)(answer_like(task, one_row_more))
    assert str(failure.value).endswith(say(task.shape_hint, task.cases()[0]))


@pytest.mark.parametrize(("task", "index"), ERRORS, ids=lambda x: str(getattr(x, "name", x)))
def test_an_error_gets_its_hint(task, index):
    pattern, hint = task.error_hints[index]

    def raises(*args, **kwargs):  # a pattern of plain words matches its own text
        raise RuntimeError(pattern)

    with pytest.raises(CheckFailed, match="raised RuntimeError") as failure:
        checker_of(task)(raises)
    assert str(failure.value).endswith(say(hint, task.cases()[0]))


@pytest.mark.parametrize("task", [t for t in TASKS if gradients(t)], ids=_name)
def test_an_answer_without_gradient_is_feedback(task):
    with pytest.raises(CheckFailed, match=re.escape(gradients(task)[0].missing)):
        checker_of(task)(answer_like(task, tensors(torch.Tensor.detach)))


TUPLES = [t for t in TASKS if isinstance(t.compare, Parts) and not gradients(t)]


@pytest.mark.parametrize("task", TUPLES, ids=_name)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda out: out[:-1], r"returned \d+ values; expected"),
        (lambda out: (*out[:-1], "x"), "a str"),
    ],
)
def test_a_part_missing_or_of_the_wrong_type_is_feedback(task, change, message):
    with pytest.raises(CheckFailed, match=message):
        checker_of(task)(lambda *args, **kwargs: change(task.reference(*args, **kwargs)))


@pytest.mark.parametrize("task", TASKS, ids=_name)
@pytest.mark.parametrize(
    ("change", "message"), [(nan, None), (lambda value: "42", "str")], ids=["nan", "str"]
)
def test_nan_or_a_wrong_type_is_feedback(task, change, message):
    with pytest.raises(CheckFailed, match=message):
        checker_of(task)(answer_like(task, change))


@pytest.mark.parametrize("task", [t for t in TASKS if returns_tensor(t)], ids=_name)
def test_a_tensor_on_another_device_is_feedback(task):
    with pytest.raises(CheckFailed, match="device meta"):
        checker_of(task)(answer_like(task, tensors(lambda value: value.to("meta"))))


@pytest.mark.parametrize("checker", CHECKERS, ids=_name)
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (stub, "not written yet"),
        (broken, "IndexError"),
        (lambda *args, **kwargs: None, None),
        (None, None),
        (3, None),
        ("answer", None),
    ],
    ids=["stub", "exception", "returns None", "None", "int", "str"],
)
def test_what_is_not_a_right_answer_is_feedback(checker, answer, message):
    with pytest.raises(CheckFailed, match=message):
        checker(answer)


def test_a_stub_called_by_a_written_function_is_named():
    def hz_to_mel(f):
        raise NotImplementedError

    def mel_filterbank(*args, **kwargs):
        return hz_to_mel(args)

    with pytest.raises(CheckFailed, match=r"^hz_to_mel \(which your mel_filterbank calls\)"):
        check.mel_filterbank(mel_filterbank)


def test_a_notebook_shows_only_the_message_of_a_failed_check():
    from mmcourse.check._core import show_only_the_message

    class Shell:
        def set_custom_exc(self, exceptions, handler):
            self.exceptions, self.handler = exceptions, handler

        def _showtraceback(self, etype, value, lines):
            self.shown = (etype, str(value), lines)

    shell = Shell()
    assert show_only_the_message(shell)
    assert shell.exceptions == (CheckFailed,)
    lines = shell.handler(shell, CheckFailed, CheckFailed("for x: expected 4"), None)
    assert len(lines) == 1 and lines[0].endswith("CheckFailed\x1b[0m: for x: expected 4")
    assert shell.shown == (CheckFailed, "for x: expected 4", lines)
