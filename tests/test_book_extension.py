"""The book's Sphinx extension: Colab links on notebook pages, and the library hash that
invalidates the execution cache."""

from __future__ import annotations

from types import SimpleNamespace

import execution
import mmcourse_book

import notebooks
from tests._tools import ROOT


def html_app(outdir):
    """Just what a build-finished handler reads of the Sphinx app: an HTML build into outdir."""
    return SimpleNamespace(outdir=str(outdir), builder=SimpleNamespace(format="html"))


def _page() -> dict:
    """The parts of a page's html-page-context that the extension reads, as the theme fills them."""
    button = {"text": "Colab", "url": "https://colab.research.google.com/github/x/y/a.md"}
    return {
        "header_buttons": [{"label": "launch-buttons", "buttons": [button]}],
        "body": "<section><h1>Title</h1><p>Text</p></section>",
    }


def test_notebook_pages_get_a_colab_badge_and_button():
    source = ROOT / "book" / "02_convolution.md"
    context = _page()
    mmcourse_book._add_colab_links(None, "book/02_convolution", "page.html", context, doctree=[])
    url = notebooks.colab_url(source)
    assert context["header_buttons"][0]["buttons"][0]["url"] == url
    _, rest = context["body"].split("</h1>", 1)
    assert rest.lstrip().startswith('<p class="colab-badge">'), context["body"]
    assert f'href="{url}"' in rest


def test_pages_that_are_not_notebooks_are_left_alone():
    for pagename in ("book/references", "book/no_such_page", "README"):
        context = _page()
        mmcourse_book._add_colab_links(None, pagename, "page.html", context, doctree=[])
        assert context == _page(), pagename


def test_the_cache_changes_with_the_library(monkeypatch, tmp_path):
    (tmp_path / "mmcourse").mkdir()
    module = tmp_path / "mmcourse" / "m.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(execution, "ROOT", tmp_path)
    before = execution.cache_path()
    assert execution.cache_path() == before
    module.write_text("x = 2\n")
    assert execution.cache_path() != before
    assert execution.cache_path().parent == before.parent == tmp_path / "_build" / ".jupyter_cache"


def test_the_book_reads_the_cache_the_tests_write(tmp_path):
    class Config:
        nb_execution_cache_path = ""

    config = Config()
    mmcourse_book._use_the_tests_cache(None, config)
    assert config.nb_execution_cache_path == str(execution.cache_path())


def test_mathjax_is_served_from_the_site_not_a_cdn(tmp_path):
    class Config:
        mathjax_path = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"

    config = Config()
    mmcourse_book._serve_mathjax_locally(None, config)
    assert config.mathjax_path == "mathjax/tex-mml-chtml.js"

    mmcourse_book._copy_mathjax(html_app(tmp_path), None)
    static = tmp_path / "_static" / "mathjax"
    assert (static / "tex-mml-chtml.js").stat().st_size > 100_000
    assert (static / "input" / "tex" / "extensions" / "ams.js").is_file()
    assert any((static / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_Main-*.woff"))


def test_solution_markers_are_not_shown_in_the_book():
    body = (
        '<pre><span class="k">def</span> f():\n'
        '    <span class="c1">### BEGIN SOLUTION</span>\n'
        '    <span class="k">return</span> 1\n'
        '<span class="w">    </span><span class="c1">### END SOLUTION</span>\n</pre>'
    )
    context = {"body": body}
    mmcourse_book._hide_solution_markers(None, "exercises/x", "page.html", context, None)
    assert "SOLUTION" not in context["body"]
    assert '    <span class="k">return</span> 1\n' in context["body"]


def test_the_home_page_tab_does_not_repeat_the_book_title():
    book = {"title": "The book", "docstitle": "The book"}
    mmcourse_book._title_once(None, "book/index", "page.html", book, None)
    assert book["title"] == "Home"
    page = {"title": "2. Convolution", "docstitle": "The book"}
    mmcourse_book._title_once(None, "book/02", "page.html", page, None)
    assert page["title"] == "2. Convolution"


def test_each_inline_script_is_written_once(tmp_path):
    page = tmp_path / "book" / "page.html"
    page.parent.mkdir()
    twice = '    <script>const THEBE_JS_URL = "x";</script>\n'
    page.write_text(f"<head>\n{twice}    <script src='a.js'></script>\n{twice}</head>\n")

    mmcourse_book._no_duplicate_scripts(html_app(tmp_path), None)
    html = page.read_text()
    assert html.count("THEBE_JS_URL") == 1 and "a.js" in html


def test_every_reference_links_to_its_source():
    """A reader can open every cited paper: a DOI, an arXiv id or a URL. Only printed books
    (which have none of these) are exempt."""
    from pybtex.database import parse_file

    entries = parse_file(ROOT / "book" / "references.bib").entries
    unlinked = [
        key
        for key, entry in entries.items()
        if entry.type != "book" and not {"doi", "eprint", "url"} & {f.lower() for f in entry.fields}
    ]
    assert not unlinked, f"add a doi, eprint (arXiv) or url to: {unlinked}"
