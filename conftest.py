"""Let nbval run the MyST-Markdown notebooks of book/ and exercises/ directly.

nbval only collects ``.ipynb`` files and reads them with ``nbformat.read``. Here every MyST
notebook (``notebooks.is_myst_notebook``: a ``.md`` file with a Jupytext header and a kernelspec)
is collected too, read through Jupytext while nbval collects it, and executed cell by cell in a
fresh kernel. Test ids point at the source, e.g. ``book/02_convolution.md::Cell 3``; a failing
``assert`` shows that cell and its traceback.

This patches nbval's internals (``IPyNbFile.collect`` and the ``nbformat`` module it reads
with), so pyproject.toml bounds nbval to the versions this is tested with.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbval.plugin as nbval_plugin

# The repository's tools are scripts in tools/ and _ext/, not an installed package. Python puts
# tools/ on sys.path when it runs one of them and Jupyter Book puts _ext/ there for the book;
# this does the same for pytest, so conftest and the tests `import notebooks` and
# `import mmcourse_book` the way the scripts and the book do.
ROOT = Path(__file__).resolve().parent
for folder in ("tools", "_ext"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))

from notebooks import is_myst_notebook  # noqa: E402 (needs tools/ on sys.path, just above)


class _JupytextNbformat:
    """Stands in for the ``nbformat`` module inside nbval while it reads a notebook."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    @staticmethod
    def read(path, as_version=4):
        return jupytext.read(path, as_version=as_version)


class MystNotebookFile(nbval_plugin.IPyNbFile):
    def collect(self):
        real = nbval_plugin.nbformat
        nbval_plugin.nbformat = _JupytextNbformat(real)
        try:  # IPyNbFile.collect() reads the notebook before its first yield
            items = list(super().collect())
        finally:
            nbval_plugin.nbformat = real
        return items


def pytest_collect_file(file_path: Path, parent):
    option = parent.config.option
    if (option.nbval or option.nbval_lax) and is_myst_notebook(file_path):
        return MystNotebookFile.from_parent(parent, path=file_path)
    return None
