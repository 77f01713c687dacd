"""Collect every MyST notebook of book/ and exercises/ as one test that executes it.

A notebook passes when every cell runs without error in a fresh kernel (its ``assert`` cells are
the checks); a failure shows the failing cell and its traceback. ``tools/execution.py`` runs it
and stores the executed notebook in the cache that the book build reads, so the book renders the
outputs this test checked instead of executing every notebook a second time. With pytest-xdist
(``-n auto`` in pyproject.toml) the notebooks and the unit tests run side by side on all cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import settings

# The same examples on every run and every machine: a property test that fails in CI fails the
# same way on a laptop (and a green run stays green).
settings.register_profile("mmcourse", derandomize=True)
settings.load_profile("mmcourse")

# The repository's tools are scripts in tools/ and _ext/, not an installed package. Python puts
# tools/ on sys.path when it runs one of them and Jupyter Book puts _ext/ there for the book;
# this does the same for pytest, so conftest and the tests `import notebooks` and
# `import mmcourse_book` the way the scripts and the book do.
ROOT = Path(__file__).resolve().parent
for folder in ("tools", "_ext"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))

import execution  # noqa: E402 (needs tools/ on sys.path, just above)

from notebooks import is_myst_notebook  # noqa: E402


class NotebookFailed(Exception):
    """A cell of the notebook raised; the message is the cell and its traceback."""


class NotebookItem(pytest.Item):
    def runtest(self) -> None:
        result = execution.run(self.path)
        if result.error is not None:
            raise NotebookFailed(result.error)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotebookFailed):
            return f"{self.path.relative_to(ROOT)} failed:\n{excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"{self.path.relative_to(ROOT)} (executed)"


class NotebookFile(pytest.File):
    def collect(self):
        yield NotebookItem.from_parent(self, name="execute")


def pytest_collect_file(file_path: Path, parent):
    if is_myst_notebook(file_path):
        return NotebookFile.from_parent(parent, path=file_path)
    return None
