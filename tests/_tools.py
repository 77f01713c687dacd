"""What the tests share: the repository root.

The repository's tools are scripts, not a package; tests import them by name, as the scripts
import each other (``import notebooks`` for tools/notebooks.py, ``import mmcourse_book`` for
_ext/mmcourse_book.py), because conftest.py puts tools/ and _ext/ on ``sys.path``.
"""

from __future__ import annotations

from notebooks import ROOT

__all__ = ["ROOT"]
