"""Every exercise checker, whatever its chapter: an unsolved stub, something that is not an answer,
or an answer of None becomes feedback (``CheckFailed``), never a crash of the checker.

The checkers are taken from ``mmcourse.check.__all__``, so a new chapter's checkers are covered
as soon as they are exported. Each chapter's own file (tests/test_check_<chapter>.py) tests that
right answers pass and typical wrong answers fail with the right hint.
"""

from __future__ import annotations

import pytest

from mmcourse import check
from mmcourse.check import CheckFailed

CHECKERS = [getattr(check, name) for name in check.__all__ if name != "CheckFailed"]


def _name(checker) -> str:
    return checker.__name__


def stub(*args, **kwargs):
    raise NotImplementedError("replace this line with your code")


def test_every_exported_checker_is_a_checker():
    assert len(CHECKERS) >= 25
    for checker in CHECKERS:
        assert callable(checker) and hasattr(checker, "__wrapped__"), (
            f"check.{_name(checker)} is not decorated with @checker"
        )


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
