"""Argument checks shared by every public function of the library.

One rule everywhere: a value of the wrong *type* raises ``TypeError``, a value of the right type
but the wrong *value* raises ``ValueError``, and the message names the argument, what was
expected and what was given, e.g. ``stride must be an int >= 1, got 0``. ``bool`` is never
accepted where an int or a number is asked for (``True`` is an int to Python, but never a kernel
size), and only a ``bool`` is accepted where a flag is asked for (``1`` is not ``True``).
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_number",
    "check_pair",
    "check_shape",
    "check_tensor",
    "describe",
]


def describe(value: Any) -> str:
    """How a message shows what was given: a tensor by its shape and dtype, else its repr."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` with ``minimum <= value <= maximum`` (each bound optional).

    Python and NumPy integers and 0-d integer tensors are accepted; ``bool``, floats (even
    ``2.0``) and strings are a ``TypeError``, an int out of range a ``ValueError``.
    """
    expected = "an int" + (f" >= {minimum}" if minimum is not None else "")
    if maximum is not None:
        expected += (" and" if minimum is not None else "") + f" <= {maximum}"
    if isinstance(value, Tensor) and value.dim() == 0 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {expected}, got {describe(value)}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {expected}, got {value}")
    return value


def check_number(
    value: Any, name: str, minimum: float | None = None, *, positive: bool = False
) -> float:
    """``value`` as a finite ``float``; ``positive`` asks for > 0, ``minimum`` for >= it.

    Python and NumPy ints and floats and 0-d real tensors or arrays are accepted; ``bool``
    (NumPy's too), strings and complex numbers are a ``TypeError``; NaN, an infinity, a value
    out of range or an int too large for a float is a ``ValueError``.
    """
    expected = "a finite number" + (" > 0" if positive else "")
    expected += f" >= {minimum}" if minimum is not None else ""
    if isinstance(value, Tensor | np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{name} must be {expected}, got {describe(value)}") from None
    too_small = (positive and number <= 0) or (minimum is not None and number < minimum)
    if not math.isfinite(number) or too_small:
        raise ValueError(f"{name} must be {expected}, got {number}")
    return number


def check_pair(value: Any, name: str, minimum: int = 0) -> tuple[int, int]:
    """An int or a pair of ints, each ``>= minimum``, as a pair (PyTorch's ``_pair``).

    ``3`` becomes ``(3, 3)``, ``(2, 3)`` or ``[2, 3]`` stays ``(2, 3)``. A non-int entry is a
    ``TypeError``; a sequence of another length or an entry below ``minimum`` a ``ValueError``.
    """
    expected = f"an int or a pair of ints >= {minimum}"
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if len(value) != 2:
            raise ValueError(f"{name} must be {expected}, got {describe(value)}")
        items = tuple(value)
    else:
        items = (value, value)
    try:
        pair = tuple(check_int(v, name) for v in items)
    except TypeError:
        raise TypeError(f"{name} must be {expected}, got {describe(value)}") from None
    if min(pair) < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return pair  # type: ignore[return-value]


def _is_choice(value: Any, choice: Any) -> bool:
    """``value == choice``, except that ``True`` is not ``1`` and a tensor is never a choice."""
    if isinstance(value, Tensor | np.ndarray):
        return False
    return isinstance(value, bool) == isinstance(choice, bool) and bool(value == choice)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``, else a ``ValueError``.

    When every choice is a string, a ``value`` that is not one is a ``TypeError``.
    """
    options = list(choices)
    if all(isinstance(c, str) for c in options) and not isinstance(value, str):
        raise TypeError(f"{name} must be one of {options}, got {describe(value)}")
    if not any(_is_choice(value, c) for c in options):
        raise ValueError(f"{name} must be one of {options}, got {describe(value)}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is a ``bool`` (NumPy's included); anything else, even ``1``: TypeError."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {describe(value)}")
    return bool(value)


def check_tensor(
    value: Any,
    name: str,
    dims: int | Sequence[int] | None = None,
    *,
    floating: bool | None = None,
) -> Tensor:
    """``value`` if it is a tensor with one of the allowed numbers of ``dims``.

    ``floating=True`` asks for a floating-point dtype, ``False`` for an integer (or bool) one.
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(value)}")
    if dims is not None:
        allowed = (dims,) if isinstance(dims, int) else tuple(dims)
        if value.dim() not in allowed:
            wanted = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(
                f"{name} must be a {wanted} tensor, got a {value.dim()}-D tensor of shape "
                f"{tuple(value.shape)}"
            )
    if floating is True and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if floating is False and (value.is_floating_point() or value.is_complex()):
        raise TypeError(f"{name} must be an integer tensor, got dtype {value.dtype}")
    return value


def check_shape(value: Tensor, name: str, shape: Sequence[int | None]) -> Tensor:
    """``value`` if its shape is ``shape`` (``None`` matches any size on that axis).

    E.g. ``check_shape(bias, "bias", (out_channels,))`` or ``check_shape(x, "x", (None, 3))``.
    """
    check_tensor(value, name)
    ok = value.dim() == len(shape) and all(
        want is None or want == got for want, got in zip(shape, value.shape, strict=True)
    )
    if not ok:
        sizes = ["*" if s is None else str(s) for s in shape]
        wanted = "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {wanted}, got {tuple(value.shape)}")
    return value
