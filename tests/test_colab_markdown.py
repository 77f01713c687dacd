"""The generated Colab notebooks read as clean Markdown: tools/notebooks.py rewrites every MyST
role, directive and target line of a markdown cell (colab_markdown), and none is left in any
generated notebook."""

from __future__ import annotations

import re

import nbformat
import pytest
from pybtex.database import parse_string

import notebooks
from tests._tools import ROOT

SOURCES = notebooks.sources()
CHAPTER = ROOT / "book" / "02_convolution.md"
BOOK = "https://mmcourse.github.io/mmcourse/"
REFS = BOOK + "book/references.html"
MYST = re.compile(r"\{[a-z][a-z:-]*\}`|^\s*(`{3,}|:{3,})\{|^\s*\([^()\s]+\)=\s*$", re.M)


def md(text: str, source=CHAPTER) -> str:
    return notebooks.colab_markdown(text, source)


@pytest.fixture(autouse=True)
def _configured_repository(monkeypatch):
    monkeypatch.setattr(
        notebooks, "repository", lambda: ("https://github.com/mmcourse/mmcourse", "main")
    )


def test_book_url_derives_from_the_repository(monkeypatch):
    assert notebooks.book_url() == BOOK
    monkeypatch.setattr(notebooks, "repository", lambda: ("https://github.com/Org/repo", "dev"))
    assert notebooks.book_url() == "https://org.github.io/repo/"
    assert md("{doc}`09_attention`").endswith("(https://org.github.io/repo/book/09_attention.html)")
    monkeypatch.setattr(notebooks, "repository", lambda: ("https://gitlab.com/org/repo", "dev"))
    with pytest.raises(ValueError, match=r"repository\.url.*https://github\.com/.*gitlab\.com"):
        notebooks.book_url()


def test_glued_values_become_their_names_in_code_font():
    assert md("reaches {glue:text}`acc:.1%` after {glue:text}`steps` steps") == (
        "reaches `acc` after `steps` steps"
    )
    assert md("{glue}`loss`, {glue:any}`rate`") == "`loss`, `rate`"


def test_citations_become_author_year_links_to_the_references():
    assert md("Attention {cite:p}`vaswani2017attention, hochreiter1997long`.") == (
        f"Attention ([Vaswani et al., 2017]({REFS}); [Hochreiter and Schmidhuber, 1997]({REFS}))."
    )
    assert md("{cite:t}`nyquist1928certain` showed") == f"[Nyquist (1928)]({REFS}) showed"
    # TeX accents are decoded: Baltru{\v{s}}aitis.
    assert md("{cite:p}`baltrusaitis2019multimodal`") == f"([Baltrušaitis et al., 2019]({REFS}))"


def test_author_names_one_two_many_others_and_particles(monkeypatch):
    bib = parse_string(
        """
        @misc{a, author = {van Merri{\\"e}nboer, Bart and others}, year = {2001}}
        @misc{b, author = {One, A. and Two, B. and Three, C.}, year = {2002}}
        @misc{c, author = {{ITU-T}}, year = {2003}}
        """,
        "bibtex",
    ).entries
    monkeypatch.setattr(notebooks, "_bibliography", lambda: bib)
    assert md("{cite:p}`a,b,c`") == (
        f"([van Merriënboer et al., 2001]({REFS}); [One et al., 2002]({REFS}); "
        f"[ITU-T, 2003]({REFS}))"
    )
    with pytest.raises(ValueError, match=r"'nokey'.*references\.bib"):
        md("{cite:p}`nokey`")


def test_doc_becomes_a_link_to_the_page_resolved_from_the_source():
    title = "Exercises: fusion"  # the first heading of exercises/08_fusion.md
    assert md("{doc}`../exercises/08_fusion`") == f"[{title}]({BOOK}exercises/08_fusion.html)"
    assert md("see {doc}`the next\nchapter <09_attention>`.") == (
        f"see [the next chapter]({BOOK}book/09_attention.html)."
    )
    exercise = ROOT / "exercises" / "08_fusion.md"
    assert md("{doc}`../book/08_fusion`", exercise).endswith(f"({BOOK}book/08_fusion.html)")
    with pytest.raises(ValueError, match=r"02_convolution\.md.*'no_such_page'"):
        md("{doc}`no_such_page`")


def test_ref_becomes_a_link_to_the_labelled_heading():
    # A label on a page's title links to the page, any other to its anchor on the page.
    assert md("{ref}`ch-fusion`") == (
        f"[Fusion: combining image, text and audio]({BOOK}book/08_fusion.html)"
    )
    assert md("{ref}`erratum-e1`") == f"[E1: convolution]({BOOK}book/errata.html#erratum-e1)"
    assert md("{ref}`the errata <app-errata>`") == f"[the errata]({BOOK}book/errata.html)"
    with pytest.raises(ValueError, match=r"'no-such-label'.*\(label\)="):
        md("{ref}`no-such-label`")


def test_label_lines_are_dropped():
    assert md("(ch-convolution)=\n# Convolution\n\ntext") == "# Convolution\n\ntext"


def test_admonitions_become_quoted_blocks_with_their_title():
    text = (
        "Before.\n\n"
        "````{admonition} Erratum E6: no softmax\n"
        ":class: warning\n"
        "\n"
        "Do not {cite:t}`nyquist1928certain`.\n"
        "\n"
        "```python\n"
        "model(x)  # {glue:text}`kept`\n"
        "```\n"
        "````\n"
        "After."
    )
    assert md(text) == (
        "Before.\n\n"
        "> **Erratum E6: no softmax**\n"
        ">\n"
        f"> Do not [Nyquist (1928)]({REFS}).\n"
        ">\n"
        "> ```python\n"
        "> model(x)  # {glue:text}`kept`\n"
        "> ```\n"
        "After."
    )
    assert md("```{note}\nA body.\n```") == "> **Note**\n>\n> A body."
    assert md(":::{tip} Go further\nMore.\n:::") == "> **Go further**\n>\n> More."


def test_an_admonition_inside_a_list_item_stays_in_the_item():
    text = "1. A question?\n\n   ```{admonition} Answer\n   :class: dropdown\n\n   Yes.\n   ```"
    assert md(text) == "1. A question?\n\n   > **Answer**\n   >\n   > Yes."


def test_math_and_code_blocks_stay_as_they_are():
    text = "$y = \\sum_i w_i x_i$ and\n\n$$\nz = {x}^2\n$$\n\n```\n{doc}`raw`\n(x)=\n```"
    assert md(text) == text


def test_unknown_roles_and_directives_are_errors_that_name_them():
    with pytest.raises(ValueError, match=r"02_convolution\.md.*\{numref\}"):
        md("{numref}`fig-1`")
    with pytest.raises(ValueError, match=r"02_convolution\.md.*\{sidebar\}.*admonition"):
        md("```{sidebar} Aside\n```")


def test_figures_become_images_served_by_the_book_with_their_caption():
    text = (
        ":::{figure} figures/conv_window.svg\n:name: fig-conv-window\n"
        ":alt: A 2×2 kernel [w] over a 4×4 image.\n:width: 566px\n\n"
        "The window behind $y[1, 2]$; see {doc}`03_pooling_cnn`.\n:::"
    )
    page = BOOK + "book/03_pooling_cnn.html"
    assert md(text) == (
        f"![A 2×2 kernel \\[w\\] over a 4×4 image.]({BOOK}_images/conv_window.svg)\n\n"
        f"*The window behind $y[1, 2]$; see [Pooling and a CNN image encoder]({page}).*"
    )
    with pytest.raises(
        ValueError, match=r"02_convolution\.md: figure 'figures/no\.svg' is no file"
    ):
        md(":::{figure} figures/no.svg\n:::")


def test_the_pattern_of_the_whole_course_test_finds_myst():
    for raw in ("{cite:p}`a`", "```{note}\nx\n```", "   :::{tip}", "(label)=", "{glue:text}`a`"):
        assert MYST.search(raw), raw
    for clean in ("`name` and [x](y)", "> **Note**", "f(x)= 2", "$\\{x\\}$"):
        assert not MYST.search(clean), clean


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_generated_notebook_has_myst_in_its_markdown(source):
    nb = nbformat.reads(notebooks.render(source), as_version=4)
    left = [
        (index, match.group(0))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for match in MYST.finditer(cell.source)
    ]
    assert not left, f"MyST left in markdown cells (cell index, text): {left}"
