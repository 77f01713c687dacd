"""The machinery every exercise checker shares.

A checker runs the learner's code on cases the learner does not see. It either prints one line
saying which cases passed, or raises ``CheckFailed`` (an ``AssertionError``) whose message says
exactly what went wrong: the case, what came back, what was expected, and a hint when the
mistake is a common one. Whatever the learner's code does (raise, return the wrong type or
shape, return NaN) becomes such a message; a checker never crashes with an error of its own.
"""

from __future__ import annotations

import functools
import math
import operator
import traceback
from collections.abc import Callable, Sequence
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


def call(fn: Any, name: str, case: str, *args, **kwargs) -> Any:
    """Call the learner's ``fn``; turn a stub or an exception into feedback."""
    if not callable(fn):
        raise CheckFailed(f"expected {name} to be a function, got {type(fn).__name__} {fn!r:.60}")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailed(
            f"{name} is not written yet: it still raises NotImplementedError. "
            "Replace the stub with your code, run its cell, then run this check again."
        ) from None
    except Exception as error:
        raise CheckFailed(
            f"{case}: your {name} raised {type(error).__name__}: {error}{_where(error)}"
        ) from None


def as_int(value: Any, case: str, expected: int, what: str = "you returned") -> int:
    """``value`` as an int (Python or NumPy integer, or a 0-d integer tensor), else feedback."""
    if isinstance(value, bool):
        raise CheckFailed(f"{case}: {what} the bool {value}; expected the int {expected}") from None
    if isinstance(value, Tensor) and value.dim() == 0 and not value.is_floating_point():
        return int(value.item())
    try:
        return operator.index(value)
    except TypeError:
        kind = type(value).__name__
        raise CheckFailed(
            f"{case}: {what} {value!r} (a {kind}); expected the int {expected}"
        ) from None


def as_tensor(value: Any, case: str, what: str = "you returned") -> Tensor:
    """``value`` if it is a tensor, else feedback naming what it is."""
    if not isinstance(value, Tensor):
        raise CheckFailed(f"{case}: {what} a {type(value).__name__}; expected a torch.Tensor")
    return value


def expect_shape(value: Tensor, shape: Sequence[int], case: str, hint: str = "") -> None:
    """Feedback unless ``value`` has exactly ``shape``."""
    if tuple(value.shape) != tuple(shape):
        raise CheckFailed(
            f"{case}: your result has shape {tuple(value.shape)}, expected {tuple(shape)}"
            + (f". {hint}" if hint else "")
        )


def expect_close(
    value: Tensor, expected: Tensor, case: str, hint: str = "", atol: float = 1e-4
) -> None:
    """Same shape and values within ``atol + 1e-4 * |expected|``; name the worst entry if not."""
    expect_shape(value, expected.shape, case)
    value = value.detach().to(device="cpu", dtype=torch.float64)
    expected = expected.detach().to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(value).all():
        raise CheckFailed(f"{case}: your result contains NaN or infinity")
    error = (value - expected).abs()
    if torch.allclose(value, expected, atol=atol, rtol=1e-4):
        return
    worst = tuple(int(i) for i in torch.unravel_index(error.argmax(), error.shape))
    raise CheckFailed(
        f"{case}: wrong values; at index {worst} you have {value[worst].item():.4f}, "
        f"expected {expected[worst].item():.4f} (largest error {error.max().item():.3g})"
        + (f". {hint}" if hint else "")
    )


def passed(name: str, n_cases: int) -> None:
    """Tell the learner that every hidden case passed."""
    print(f"✓ {name}: correct on all {n_cases} hidden test cases.")


def isclose(a: float, b: float) -> bool:
    """Equal up to floating-point noise."""
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
