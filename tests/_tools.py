"""Import the repository's tools/ scripts (not part of the installed package) from tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


notebooks_tool = load("notebooks_tool", ROOT / "tools" / "notebooks.py")
book_extension = load("mmcourse_book", ROOT / "_ext" / "mmcourse_book.py")
