"""Argument checks shared by every public function of the library.

One rule everywhere: a value of the wrong *type* raises ``TypeError``, a value of the right type
but the wrong *value* raises ``ValueError``, and the message names the argument, what was
expected and what was given, e.g. ``stride must be an int >= 1, got 0``. ``bool`` is never
accepted where an int is asked for (``True`` is an int to Python, but never a kernel size).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

from torch import Tensor

__all__ = [
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
    """``value`` as an ``int`` (NumPy integers and 0-d integer tensors included), in range."""
    expected = "an int" + (f" >= {minimum}" if minimum is not None else "")
    expected += f" <= {maximum}" if maximum is not None else ""
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
    """``value`` as a finite ``float``; ``positive`` asks for > 0, ``minimum`` for >= it."""
    expected = "a finite number" + (" > 0" if positive else "")
    expected += f" >= {minimum}" if minimum is not None else ""
    if isinstance(value, Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(operator.index(value))  # NumPy integers
        except TypeError:
            if type(value).__module__ != "numpy":
                raise TypeError(f"{name} must be {expected}, got {describe(value)}") from None
            value = float(value)
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be {expected}, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value}")
    return value


def check_pair(value: Any, name: str, minimum: int = 0) -> tuple[int, int]:
    """An int or a pair of ints, each ``>= minimum``, as a pair (PyTorch's ``_pair``)."""
    expected = f"an int or a pair of ints >= {minimum}"
    if isinstance(value, Sequence) and not isinstance(value, str):
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


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {describe(value)}")
    return value


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
    """``value`` if its shape is ``shape`` (``None`` matches any size on that axis)."""
    ok = value.dim() == len(shape) and all(
        want is None or want == got for want, got in zip(shape, value.shape, strict=True)
    )
    if not ok:
        wanted = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {wanted}, got {tuple(value.shape)}")
    return value
