"""Sphinx extension for the course book (loaded through _config.yml -> sphinx.local_extensions).

It does two things Jupyter Book 1 does not do by itself:

1. **Colab links that work for MyST notebooks.** sphinx-book-theme's Colab button points at the
   page's ``.md`` source, which Colab cannot open. Every notebook page instead links to its
   generated twin ``notebooks/<page>.ipynb`` on the configured branch (written by
   ``python tools/notebooks.py``), both from the launch button and from an "Open in Colab"
   badge under the page title. Which pages are notebooks, and their Colab addresses, come from
   tools/notebooks.py, as for the tests and tools/check_site.py.
2. **One execution per notebook, no stale outputs.** The book reads the execution cache that
   the tests fill (tools/execution.py): the cache of the current version of the library,
   ``_build/.jupyter_cache/<library hash>``, so a page renders the outputs the tests checked,
   and a library change (which jupyter-cache, keyed on a notebook's code only, cannot see) leads
   to a fresh cache. Caches of older library versions are removed, and after a library change
   every notebook page is re-read even without ``--all``. With ``MMCOURSE_EXPECT_CACHED=1``
   (set by .ci/run after the tests) a notebook the book had to execute itself is a warning,
   so that ``-W`` fails a build that did not reuse the tests' execution.
3. **Math without a network.** MathJax is served from the built site, not from a CDN, so a copy
   of the book read offline (a classroom, a downloaded site) still shows typeset math. The files
   come from the ``django-static-mathjax`` package on PyPI (MathJax 3 itself, no Django needed;
   a dependency of the ``book`` extra), copied into ``_static/mathjax/``: the combined
   ``tex-mml-chtml.js`` component, the TeX extensions it loads on demand, and its fonts.
5. **Author-year labels in the bibliography**, matching the author-year citations in the text
   ("Baltrušaitis et al., 2019" instead of pybtex's ``[BaltruvsaitisAM19]``): the pybtex style
   ``authoryear`` below, selected by ``bibtex_default_style`` in ``_config.yml``.
4. **An execution-status page.** The directive ``{execution-status}`` (used by
   ``book/status.md``) becomes a table of every notebook: when it last ran, how long it took
   against its time budget, and whether it succeeded, read from the execution data of this very
   build (the tests' run, when the book reused it), never typed.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import sys
import time
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[1]
# tools/ holds scripts, not a package: put it on sys.path, as Jupyter Book does for _ext/.
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

import execution  # noqa: E402 (needs tools/ on sys.path, just above)

import notebooks  # noqa: E402

LOGGER = logging.getLogger(__name__)
COLAB_BADGE = "_static/colab-badge.svg"  # served with the site, so it shows offline too


MATHJAX_FILES = ("tex-mml-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2")


def mathjax_source() -> Path:
    """MathJax 3's ``es5`` folder, as the ``django-static-mathjax`` package installs it."""
    from importlib.resources import files

    return Path(str(files("mathjax"))) / "static" / "mathjax" / "es5"


def _serve_mathjax_locally(app: Sphinx, config) -> None:
    config.mathjax_path = "mathjax/tex-mml-chtml.js"  # relative to _static/


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for name in MATHJAX_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)


def author_year_label(entry) -> str:
    """``Vaswani et al., 2017``, ``Luong and Manning, 2015``, ``LeCun, 1989`` for a pybtex entry,
    TeX accents decoded (``Baltru{\\v{s}}aitis`` becomes ``Baltrušaitis``)."""
    from pybtex.richtext import Text

    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in people]
    if not names:
        who = entry.fields.get("title", entry.key)[:30]
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def _register_author_year_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            seen: dict[str, int] = {}
            for entry in sorted_entries:
                label = author_year_label(entry)
                seen[label] = seen.get(label, 0) + 1
                yield label if seen[label] == 1 else f"{label}{'abcdefgh'[seen[label] - 1]}"

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle, force=True)


def _stamp_path(app: Sphinx) -> Path:
    return Path(app.outdir).parent / "mmcourse-library.sha256"


def _use_the_tests_cache(app: Sphinx, config) -> None:
    cache = execution.cache_path()
    config.nb_execution_cache_path = str(cache)
    for old in cache.parent.glob("*") if cache.parent.exists() else []:
        if old.is_dir() and old != cache:
            shutil.rmtree(old)


def _library_changed(app: Sphinx) -> None:
    stamp = _stamp_path(app)
    app.env.mmcourse_library_changed = (  # type: ignore[attr-defined]
        not stamp.exists() or stamp.read_text().strip() != execution.library_hash()
    )


def _check_reuse(app: Sphinx, env) -> list[str]:
    if os.environ.get("MMCOURSE_EXPECT_CACHED") != "1":
        return []
    from myst_nb.sphinx_ import NbMetadataCollector

    for docname in sorted(env.found_docs):
        data = NbMetadataCollector.get_exec_data(env, docname)
        if data and data.get("mtime", 0) >= app.mmcourse_started:  # type: ignore[attr-defined]
            LOGGER.warning(
                "%s was executed by the book build: the tests' execution was not reused "
                "(is the library or the notebook different from when the tests ran?)",
                docname,
            )
    return []


def _outdated_notebooks(app, env, added, changed, removed):
    if getattr(env, "mmcourse_library_changed", False):
        return [doc for doc in env.found_docs if doc not in added and doc not in changed]
    return []


def _write_stamp(app: Sphinx, exception: Exception | None) -> None:
    if exception is None:
        _stamp_path(app).write_text(execution.library_hash() + "\n")


SOLUTION_MARKER = re.compile(  # one highlighted comment line, with its indentation
    r'^[ \t]*(?:<span class="w">[ \t]*</span>)?'
    r'<span class="c1">### (?:BEGIN|END) SOLUTION</span>\n',
    re.M,
)


def _hide_solution_markers(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Drop the ``### BEGIN/END SOLUTION`` lines from rendered solutions (they are for the tools
    that make the learner's notebook, not for a reader)."""
    if "body" in context:
        context["body"] = SOLUTION_MARKER.sub("", context["body"])


def _is_exercise(pagename: str) -> bool:
    return pagename.startswith("exercises/") and notebooks.is_myst_notebook(ROOT / f"{pagename}.md")


def _no_solution_downloads(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """On an exercise page, offer only the notebook to download, which _serve_learner_notebooks
    replaces by the learner version: the ``.md`` source holds the reference solutions."""
    if not _is_exercise(pagename):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"] = [
                b for b in group["buttons"] if b.get("label") != "download-source-button"
            ]


def _serve_learner_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """The downloadable notebook of an exercise page is the learner's, as on Colab."""
    if exception is not None or app.builder.format != "html":
        return
    for source in notebooks.sources():
        page = source.relative_to(ROOT).with_suffix("")
        if not _is_exercise(page.as_posix()):
            continue
        served = Path(app.outdir) / "_sources" / page
        served.with_suffix(".md").unlink(missing_ok=True)
        if served.with_suffix(".ipynb").exists():
            shutil.copy2(notebooks.target(source), served.with_suffix(".ipynb"))


INLINE_SCRIPT = re.compile(r"^\s*<script>[^<]*</script>\n", re.M)


def _no_duplicate_scripts(app: Sphinx, exception: Exception | None) -> None:
    """Load each inline script once. Under Jupyter Book, sphinx-thebe and sphinx-togglebutton
    write their inline configuration into every page twice, and a second ``const THEBE_JS_URL``
    is an error on every page; drop the repeats from the written HTML."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        seen: set[str] = set()

        def once(match: re.Match, seen: set[str] = seen) -> str:
            script = match.group(0).strip()
            if script in seen:
                return ""
            seen.add(script)
            return match.group(0)

        deduplicated = INLINE_SCRIPT.sub(once, html)
        if deduplicated != html:
            page.write_text(deduplicated, encoding="utf-8")


class execution_status(nodes.General, nodes.Element):  # noqa: N801 (docutils node style)
    """Where the execution-status table goes; filled in once every page has been read."""


class ExecutionStatus(Directive):
    def run(self) -> list[nodes.Node]:
        return [execution_status()]


def _fill_execution_status(app: Sphinx, doctree, docname: str) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    for node in doctree.findall(execution_status):
        rows = []
        for source in notebooks.sources():
            page = source.relative_to(ROOT).with_suffix("").as_posix()
            data = NbMetadataCollector.get_exec_data(app.env, page) or {}
            when = data.get("mtime")
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when)) if when else "—"
            seconds = data.get("runtime")
            budget = execution.budget(source)
            link = app.builder.get_relative_uri(docname, page)
            title = app.env.titles[page].astext() if page in app.env.titles else page
            rows.append(
                f'<tr><td><a href="{link}">{html.escape(title)}</a></td>'
                f"<td>{when}</td>"
                f"<td>{f'{seconds:.1f}' if seconds is not None else '—'}</td>"
                f"<td>{budget:.0f}</td>"
                f"<td>{'✓' if data.get('succeeded') else '✗'}</td></tr>"
            )
        table = (
            '<div class="pst-scrollable-table-container"><table class="table">'
            "<thead><tr><th>notebook</th><th>last executed</th><th>seconds</th>"
            "<th>budget (s)</th><th>ran cleanly</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></div>"
        )
        node.replace_self(nodes.raw("", table, format="html"))


def _title_once(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """The home page's title is the book's title: the tab reads "Home — X", not "X — X".

    Also give the theme its light/dark default, ``auto`` (follow the reader's system): left
    empty, pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first visit."""
    context.setdefault("default_mode", "auto")
    if context.get("title") and context.get("title") == context.get("docstitle"):
        context["title"] = "Home"


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
    pathto = context.get("pathto")
    image = pathto(COLAB_BADGE, 1) if pathto else COLAB_BADGE
    badge = (
        f'<p class="colab-badge"><a href="{url}" target="_blank" rel="noopener">'
        f'<img src="{image}" alt="Open this notebook in Colab"/></a></p>\n'
    )
    body = context.get("body", "")
    end_of_title = body.find("</h1>")
    if end_of_title >= 0:
        cut = end_of_title + len("</h1>")
        context["body"] = body[:cut] + "\n" + badge + body[cut:]


def setup(app: Sphinx) -> dict:
    # Before myst-nb reads its configuration (config-inited, priority 500).
    app.connect("config-inited", _use_the_tests_cache, priority=100)
    app.connect("config-inited", _serve_mathjax_locally)
    app.connect("build-finished", _copy_mathjax)
    app.connect("builder-inited", _library_changed)
    app.connect("env-updated", _check_reuse)
    app.mmcourse_started = time.time()  # type: ignore[attr-defined]
    app.connect("env-get-outdated", _outdated_notebooks)
    app.connect("build-finished", _write_stamp)
    # sphinx-book-theme adds its launch buttons at priority 501; run after it.
    app.connect("html-page-context", _add_colab_links, priority=900)
    app.connect("html-page-context", _hide_solution_markers)
    app.connect("html-page-context", _title_once)
    app.connect("build-finished", _no_duplicate_scripts)
    _register_author_year_style()
    app.add_node(execution_status)
    app.add_directive("execution-status", ExecutionStatus)
    app.connect("doctree-resolved", _fill_execution_status)
    app.connect("html-page-context", _no_solution_downloads, priority=900)
    app.connect("build-finished", _serve_learner_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
