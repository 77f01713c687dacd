"""mmcourse.validate: what each check accepts, and the TypeError or ValueError it raises otherwise.

Every message starts with the argument's name and carries what was expected and what was given;
the tables below assert those facts (as regular expressions), never a whole sentence.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcourse import validate
from mmcourse.validate import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_pair,
    check_shape,
    check_tensor,
    describe,
)

NAME = "my_arg"
SAME = object()  # the check returns the value it was given, unchanged
ZEROS = torch.zeros(2, 3)
STRS = {"choices": ("mean", "sum")}

# (check, value, options, the result)
ACCEPTED = [
    (check_int, 3, {}, 3),
    (check_int, np.int64(3), {}, 3),
    (check_int, np.uint8(7), {"minimum": 1}, 7),
    (check_int, np.array(5), {}, 5),
    (check_int, torch.tensor(4), {}, 4),
    (check_int, -2, {"minimum": -2, "maximum": 0}, -2),
    (check_number, 0.5, {}, 0.5),
    (check_number, 2, {}, 2.0),
    (check_number, np.float32(0.25), {}, 0.25),
    (check_number, np.int64(3), {"positive": True}, 3.0),
    (check_number, torch.tensor(1.5), {}, 1.5),
    (check_number, np.array(2.5), {}, 2.5),
    (check_number, 0.0, {"minimum": 0.0}, 0.0),
    (check_pair, 3, {}, (3, 3)),
    (check_pair, (2, 3), {}, (2, 3)),
    (check_pair, [2, 3], {"minimum": 2}, (2, 3)),
    (check_pair, np.int64(2), {"minimum": 1}, (2, 2)),
    (check_pair, (np.int32(1), 4), {}, (1, 4)),
    (check_choice, "mean", STRS, "mean"),
    (check_choice, None, {"choices": (None, "mean")}, None),
    (check_choice, 2, {"choices": (1, 2)}, 2),
    (check_choice, False, {"choices": (True, False)}, False),
    (check_bool, True, {}, True),
    (check_bool, False, {}, False),
    (check_bool, np.True_, {}, True),
    (check_tensor, ZEROS, {}, SAME),
    (check_tensor, ZEROS, {"dims": 2, "floating": True}, SAME),
    (check_tensor, ZEROS, {"dims": (1, 2)}, SAME),
    (check_tensor, torch.zeros(2, dtype=torch.long), {"floating": False}, SAME),
    (check_tensor, torch.zeros(2, dtype=torch.bool), {"floating": False}, SAME),
    (check_shape, ZEROS, {"shape": (2, 3)}, SAME),
    (check_shape, ZEROS, {"shape": (None, 3)}, SAME),
    (check_shape, torch.zeros(4), {"shape": (4,)}, SAME),
]

# (check, value, options, error, the facts after the name: what was expected, then what was given)
REJECTED = [
    (check_int, True, {}, TypeError, "an int.*bool True"),
    (check_int, np.True_, {}, TypeError, "an int.*True"),
    (check_int, torch.tensor(True), {}, TypeError, "an int.*True"),
    (check_int, 2.0, {}, TypeError, r"an int.*float 2\.0"),
    (check_int, "3", {}, TypeError, "an int.*str '3'"),
    (check_int, None, {}, TypeError, "an int.*None"),
    (check_int, torch.tensor(2.0), {}, TypeError, r"an int.*tensor.*torch\.float32"),
    (check_int, torch.tensor([1, 2]), {}, TypeError, r"an int.*tensor of shape \(2,\)"),
    (check_int, 0, {"minimum": 1}, ValueError, ">= 1.* 0$"),
    (check_int, 6, {"maximum": 5}, ValueError, "<= 5.* 6$"),
    (check_int, 4, {"minimum": 0, "maximum": 3}, ValueError, ">= 0 and <= 3.* 4$"),
    (check_number, True, {}, TypeError, "number.*bool True"),
    (check_number, np.True_, {}, TypeError, "number.*True"),
    (check_number, torch.tensor(True), {}, TypeError, "number.*True"),
    (check_number, "1.5", {}, TypeError, r"number.*str '1\.5'"),
    (check_number, np.str_("1.5"), {}, TypeError, r"number.*1\.5"),
    (check_number, 1j, {}, TypeError, "number.*complex 1j"),
    (check_number, None, {}, TypeError, "number.*None"),
    (check_number, np.zeros(2), {}, TypeError, "number.*ndarray"),
    (check_number, torch.zeros(2), {}, TypeError, r"number.*tensor of shape \(2,\)"),
    (check_number, float("nan"), {}, ValueError, "finite.* nan$"),
    (check_number, float("-inf"), {}, ValueError, "finite.* -inf$"),
    (check_number, 10**400, {}, ValueError, "finite.* 1000"),
    (check_number, 0.0, {"positive": True}, ValueError, r"> 0.* 0\.0$"),
    (check_number, -0.5, {"minimum": 0}, ValueError, r">= 0.* -0\.5$"),
    (check_pair, 1.5, {}, TypeError, r"int or a pair of ints.*float 1\.5"),
    (check_pair, (1, True), {}, TypeError, r"pair of ints.*\(1, True\)"),
    (check_pair, "ab", {}, TypeError, "pair of ints.*'ab'"),
    (check_pair, b"ab", {}, TypeError, "pair of ints.*b'ab'"),
    (check_pair, None, {}, TypeError, "pair of ints.*None"),
    (check_pair, torch.tensor([1, 2]), {}, TypeError, r"pair of ints.*tensor of shape \(2,\)"),
    (check_pair, (1, 2, 3), {}, ValueError, r"pair of ints.*\(1, 2, 3\)"),
    (check_pair, (), {}, ValueError, r"pair of ints.*\(\)"),
    (check_pair, 0, {"minimum": 1}, ValueError, ">= 1.* 0$"),
    (check_pair, (1, -1), {}, ValueError, r">= 0.*\(1, -1\)"),
    (check_choice, 3, STRS, TypeError, r"one of \['mean', 'sum'\].*int 3"),
    (check_choice, None, STRS, TypeError, r"one of \['mean', 'sum'\].*None"),
    (check_choice, "avg", STRS, ValueError, r"one of \['mean', 'sum'\].*'avg'"),
    (check_choice, "Mean", STRS, ValueError, "mean.*'Mean'"),
    (check_choice, True, {"choices": (0, 1)}, ValueError, r"\[0, 1\].*True"),
    (check_choice, 1, {"choices": (True, False)}, ValueError, r"\[True, False\].*int 1"),
    (check_choice, torch.tensor([1, 2]), {"choices": (1, 2)}, ValueError, r"\[1, 2\].*tensor"),
    (check_bool, 1, {}, TypeError, "bool.*int 1"),
    (check_bool, "yes", {}, TypeError, "bool.*'yes'"),
    (check_bool, None, {}, TypeError, "bool.*None"),
    (check_bool, torch.tensor(True), {}, TypeError, r"bool.*tensor of shape \(\)"),
    (check_tensor, [1.0], {}, TypeError, r"torch\.Tensor.*list \[1\.0\]"),
    (check_tensor, np.zeros(2), {}, TypeError, r"torch\.Tensor.*ndarray"),
    (check_tensor, ZEROS, {"floating": False}, TypeError, r"integer.*torch\.float32"),
    (check_tensor, torch.zeros(2, dtype=torch.long), {"floating": True}, TypeError, "floa.*int64"),
    (check_tensor, torch.zeros(2), {"dims": 3}, ValueError, r"3-D.*1-D.*\(2,\)"),
    (check_tensor, ZEROS, {"dims": (3, 4)}, ValueError, r"3-D or 4-D.*2-D.*\(2, 3\)"),
    (check_shape, [1.0], {"shape": (1,)}, TypeError, r"torch\.Tensor.*list"),
    (check_shape, torch.zeros(3), {"shape": (2,)}, ValueError, r"\(2,\).*\(3,\)"),
    (check_shape, ZEROS, {"shape": (None, 4)}, ValueError, r"\(\*, 4\).*\(2, 3\)"),
    (check_shape, ZEROS, {"shape": (2,)}, ValueError, r"\(2,\).*\(2, 3\)"),
]


def _ids(table):
    return [f"{row[0].__name__}({describe(row[1])[:40]}, {row[2]})" for row in table]


@pytest.mark.parametrize(("check", "value", "options", "result"), ACCEPTED, ids=_ids(ACCEPTED))
def test_accepts(check, value, options, result):
    got = check(value, NAME, **options)
    if result is SAME:
        assert got is value
    else:  # the plain Python value, whatever form it was given in
        assert got == result and type(got) is type(result)
        if isinstance(got, tuple):
            assert all(type(v) is int for v in got)


@pytest.mark.parametrize(
    ("check", "value", "options", "error", "facts"), REJECTED, ids=_ids(REJECTED)
)
def test_rejects_with_the_argument_the_expected_and_the_actual(check, value, options, error, facts):
    with pytest.raises(error, match=rf"^{NAME} .*{facts}") as raised:
        check(value, NAME, **options)
    assert type(raised.value) is error  # not a subclass that would blur the two cases


def test_every_check_has_accepted_and_rejected_cases():
    checks = {getattr(validate, name) for name in validate.__all__ if name.startswith("check_")}
    assert {row[0] for row in ACCEPTED} == checks
    assert {row[0] for row in REJECTED} == checks


def test_describe():
    assert describe(torch.zeros(2, 3)) == "a tensor of shape (2, 3) and dtype torch.float32"
    assert describe(1.5) == "float 1.5"
    long = describe(list(range(100)))
    assert long.startswith("list [0, 1,") and long.endswith("...") and len(long) < 70
