"""Seeding and device selection, shared by every chapter."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from mmcourse.validate import check_int


def set_seed(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so a run repeats exactly.

    Returns a ``torch.Generator`` seeded with the same value, for code that prefers to pass
    its randomness explicitly (data splits, samplers).

    String hashing (the iteration order of a ``set`` of strings) is not seeded: Python fixes
    it when the interpreter starts, from the ``PYTHONHASHSEED`` environment variable, so
    setting that variable here would change nothing in the running process. Export it before
    starting Python when such an order must repeat.
    """
    seed = check_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds code that uses the global state)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The device to compute on: CUDA when present, else Apple's MPS, else the CPU.

    ``prefer`` overrides the choice (for example ``"cpu"`` to compare timings); the
    environment variable ``MMCOURSE_DEVICE`` does the same for a whole run, so the notebooks
    never name a device themselves.
    """
    choice = prefer or os.environ.get("MMCOURSE_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` for the book's prose (myst-nb ``{glue}``); print it where myst-nb is absent.

    The book quotes numbers from the code that produced them, never typed by hand. A NumPy
    number or a one-element tensor is recorded as the Python number it holds, so that a format
    such as ``{glue:text}`name:.1%``` applies to it (myst-nb formats the recorded text, and
    ``np.float64(0.5)`` is no float). On Colab, which has no myst-nb, the generated notebook's
    prose shows ``name`` in code font instead, and this prints ``name = value`` so that the
    number appears in the output of the cell that computed it.
    """
    value = plain_number(value)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        print(f"{name} = {value}")
        return
    myst_glue(name, value, display=display)


def plain_number(value: Any) -> Any:
    """``value`` as a Python number if it is a NumPy number or a one-element tensor, else itself."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value
