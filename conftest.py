"""Let nbval run the MyST-Markdown notebooks of book/ and exercises/ directly.

nbval only collects ``.ipynb`` files and reads them with ``nbformat.read``. Here every ``.md``
file with a Jupytext header and a kernelspec is collected too, read through Jupytext while
nbval collects it, and executed cell by cell in a fresh kernel. Test ids point at the source,
e.g. ``book/02_convolution.md::Cell 3``; a failing ``assert`` shows that cell and its traceback.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbval.plugin as nbval_plugin

NOTEBOOK_DIRS = ("book", "exercises")


def is_myst_notebook(path: Path) -> bool:
    """A ``.md`` file under book/ or exercises/ whose YAML header declares a kernelspec."""
    if path.suffix != ".md" or "_build" in path.parts:
        return False
    try:
        relative = path.resolve().relative_to(Path(__file__).resolve().parent)
    except ValueError:
        return False
    if relative.parts[0] not in NOTEBOOK_DIRS:
        return False
    head = path.read_text(encoding="utf-8")[:3000]
    return head.startswith("---") and "kernelspec:" in head.split("\n---", 1)[0]


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
