"""Sphinx extension for the course book (loaded through _config.yml -> sphinx.local_extensions).

It does two things Jupyter Book 1 does not do by itself:

1. **Colab links that work for MyST notebooks.** sphinx-book-theme's Colab button points at the
   page's ``.md`` source, which Colab cannot open. Every notebook page instead links to its
   generated twin ``notebooks/<page>.ipynb`` on the configured branch (written by
   ``python tools/notebooks.py``), both from the launch button and from an "Open in Colab"
   badge under the page title. Which pages are notebooks, and their Colab addresses, come from
   tools/notebooks.py, as for the tests and tools/check_site.py.
2. **No stale outputs after a library change.** The execution cache (jupyter-cache) is keyed
   on a notebook's code cells only, but every notebook imports ``mmcourse``. When the library's
   sources change, this extension drops the cache and marks every page for re-execution.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[1]
# tools/ holds scripts, not a package: put it on sys.path, as Jupyter Book does for _ext/.
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

import notebooks  # noqa: E402 (needs tools/ on sys.path, just above)

LOGGER = logging.getLogger(__name__)
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def library_hash() -> str:
    """A hash of everything the notebooks import from this repository."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "mmcourse").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_path(app: Sphinx) -> Path:
    return Path(app.outdir).parent / "mmcourse-library.sha256"


def _drop_stale_cache(app: Sphinx) -> None:
    stamp = _stamp_path(app)
    app.env.mmcourse_library_changed = (  # type: ignore[attr-defined]
        not stamp.exists() or stamp.read_text().strip() != library_hash()
    )
    if app.env.mmcourse_library_changed:  # type: ignore[attr-defined]
        cache = app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache"
        if Path(cache).exists():
            LOGGER.info("mmcourse changed since the last build: dropping %s", cache)
            shutil.rmtree(cache)


def _outdated_notebooks(app, env, added, changed, removed):
    if getattr(env, "mmcourse_library_changed", False):
        return [doc for doc in env.found_docs if doc not in added and doc not in changed]
    return []


def _write_stamp(app: Sphinx, exception: Exception | None) -> None:
    if exception is None:
        _stamp_path(app).write_text(library_hash() + "\n")


def _add_colab_links(app: Sphinx, pagename, templatename, context, doctree) -> None:
    source = ROOT / f"{pagename}.md"
    if doctree is None or not notebooks.is_myst_notebook(source):
        return
    url = notebooks.colab_url(source)
    if not notebooks.target(source).exists():
        LOGGER.warning(
            "no Colab notebook notebooks/%s.ipynb; run: python tools/notebooks.py", pagename
        )
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            for button in group.get("buttons", []):
                if button.get("text") == "Colab":
                    button["url"] = url
    badge = (
        f'<p class="colab-badge"><a href="{url}" target="_blank" rel="noopener">'
        f'<img src="{COLAB_BADGE}" alt="Open this notebook in Colab"/></a></p>\n'
    )
    body = context.get("body", "")
    end_of_title = body.find("</h1>")
    if end_of_title >= 0:
        cut = end_of_title + len("</h1>")
        context["body"] = body[:cut] + "\n" + badge + body[cut:]


def setup(app: Sphinx) -> dict:
    # Run before myst-nb opens the cache (builder-inited, priority 500).
    app.connect("builder-inited", _drop_stale_cache, priority=100)
    app.connect("env-get-outdated", _outdated_notebooks)
    app.connect("build-finished", _write_stamp)
    # sphinx-book-theme adds its launch buttons at priority 501; run after it.
    app.connect("html-page-context", _add_colab_links, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
