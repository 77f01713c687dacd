"""The book's Sphinx extension: Colab URLs, and the library hash that invalidates the cache."""

from __future__ import annotations

from tests._tools import ROOT, book_extension


def test_colab_url_points_at_the_generated_notebook():
    url = book_extension.colab_url("https://github.com/org/repo/", "dev", "book/02_convolution")
    assert url == (
        "https://colab.research.google.com/github/org/repo/blob/dev/"
        "notebooks/book/02_convolution.ipynb"
    )


def test_library_hash_changes_with_the_library(monkeypatch, tmp_path):
    (tmp_path / "mmcourse").mkdir()
    module = tmp_path / "mmcourse" / "m.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(book_extension, "ROOT", tmp_path)
    before = book_extension.library_hash()
    assert book_extension.library_hash() == before
    module.write_text("x = 2\n")
    assert book_extension.library_hash() != before
    monkeypatch.setattr(book_extension, "ROOT", ROOT)
