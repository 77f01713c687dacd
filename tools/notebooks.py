"""Generate the Colab notebooks (``notebooks/**.ipynb``) from their MyST-Markdown sources.

    python tools/notebooks.py            # write every generated notebook
    python tools/notebooks.py --check    # exit 1 if anything is stale (what the tests check)

The MyST ``.md`` files in ``book/`` and ``exercises/`` are the only sources; the ``.ipynb``
files under ``notebooks/`` mirror their paths and are never edited by hand:

* a chapter's notebook is the chapter's cells, without outputs;
* an exercise's notebook is the *learner version*: every region between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by a stub that raises
  ``NotImplementedError``, as nbgrader does, and solution cells lose their ``hide-input`` tag;
* in both, every markdown cell is plain Markdown that Colab renders (``colab_markdown``): glued
  numbers become their names (``glue`` prints ``name = value`` on Colab), citations author-year
  links, ``{doc}``/``{ref}`` links to the book (``book_url``), admonitions quoted blocks,
  figures images served by the book.

The repository address and branch come from ``_config.yml``. This command also rewrites the
install line of each source's first code cell so that Colab installs the library from the same
branch the notebook comes from (never a separately released version that could drift).

This module is also the one home of the facts the rest of the tooling needs about notebooks:
which files are MyST notebooks (``is_myst_notebook``, ``sources``), the repository and branch
(``repository``) and where Colab opens a notebook (``colab_url``). conftest.py, the tests, the
book's extension (_ext/mmcourse_book.py) and tools/check_site.py all ``import notebooks``:
tools/ is on ``sys.path`` for a script in it, and conftest.py and the extension put it there.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("book", "exercises")
OUT_DIR = ROOT / "notebooks"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
INSTALL_LINE = re.compile(
    r'^(?P<indent>\s*)%pip install -q "(?:mmcourse @ )?git\+[^"]*"\s*$', re.M
)
YAML_HEADER = re.compile(r"\A---\n(.*?)\n---[ \t]*$", re.S | re.M)
GITHUB = "https://github.com/"
COLAB_GITHUB = "https://colab.research.google.com/github/"


def is_myst_notebook(path: Path) -> bool:
    """True for a ``.md`` file in book/ or exercises/ whose YAML header names a kernelspec.

    The header is the text between the first line ``---`` and the next ``---`` line. Files in
    hidden or underscore folders (``.ipynb_checkpoints``, ``_build``) are never notebooks.
    """
    path = Path(path).resolve()
    if path.suffix != ".md" or not path.is_file() or not path.is_relative_to(ROOT):
        return False
    folders = path.relative_to(ROOT).parts[:-1]
    if not folders or folders[0] not in SOURCE_DIRS:
        return False
    if any(folder.startswith((".", "_")) for folder in folders):
        return False
    header = YAML_HEADER.match(path.read_text(encoding="utf-8"))
    return header is not None and re.search(r"^kernelspec:", header.group(1), re.M) is not None


def sources() -> list[Path]:
    """Every MyST notebook of the course (see ``is_myst_notebook``), sorted."""
    found = [path for folder in SOURCE_DIRS for path in (ROOT / folder).rglob("*.md")]
    return sorted(path for path in found if is_myst_notebook(path))


def repository() -> tuple[str, str]:
    """The repository URL and branch, as configured in ``_config.yml`` (the only place)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def install_spec(url: str | None = None, branch: str | None = None) -> str:
    """The pip requirement that installs this branch of the library, e.g. for Colab."""
    default_url, default_branch = repository()
    # A bare VCS URL (pip reads the name from the package): short enough for the code column.
    return f"git+{url or default_url}@{branch or default_branch}"


def colab_prefix() -> str:
    """Where Colab opens files of the configured branch: a notebook's URL is this + its path.

    ``https://github.com/<owner>/<repo>`` on branch ``<b>`` gives
    ``https://colab.research.google.com/github/<owner>/<repo>/blob/<b>/``.
    """
    url, branch = repository()
    if not url.startswith(GITHUB):
        raise ValueError(
            f"_config.yml repository.url must start with {GITHUB} for Colab, got {url}"
        )
    return f"{COLAB_GITHUB}{url.removeprefix(GITHUB)}/blob/{branch}/"


def colab_url(source: Path) -> str:
    """The Colab address of a source's generated notebook (``notebooks/<same path>.ipynb``)."""
    return colab_prefix() + target(source).relative_to(ROOT).as_posix()


def colab_links(text: str) -> list[str]:
    """Every Colab address of a notebook on GitHub in ``text`` (HTML or Markdown)."""
    return re.findall(re.escape(COLAB_GITHUB) + r"""[^\s"'<>()`]+?\.ipynb""", text)


def target(source: Path) -> Path:
    """Where the generated notebook of a source lives: ``notebooks/<same path>.ipynb``."""
    return OUT_DIR / source.relative_to(ROOT).with_suffix(".ipynb")


def strip_solutions(code: str) -> str:
    """Replace each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region by a stub."""
    lines, out, inside = code.split("\n"), [], False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN} at line {number}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f'{indent}raise NotImplementedError("replace this line with your code")')
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END} without {BEGIN} at line {number}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} is never closed")
    return "\n".join(out)


def book_url() -> str:
    """The book's public address, from the repository's: GitHub Pages of the same repository.

    ``https://github.com/<owner>/<name>`` gives ``https://<owner>.github.io/<name>/``; a page
    ``book/02_convolution.md`` is at that address + ``book/02_convolution.html``.
    """
    url, _ = repository()
    if not url.startswith(GITHUB):
        raise ValueError(f"_config.yml repository.url must start with {GITHUB}, got {url}")
    owner, name = url.removeprefix(GITHUB).split("/")[:2]
    return f"https://{owner.lower()}.github.io/{name}/"


# --- MyST -> plain Markdown, for the markdown cells of the generated notebooks -------------
# Colab renders CommonMark and $math$, not MyST: roles ({cite:p}`key`), directives
# (```{admonition}), and target lines ((label)=) would show up raw. colab_markdown rewrites them.

ROLE = re.compile(r"\{(?P<name>[a-z][a-z:-]*)\}`(?P<content>[^`]*)`")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})[ \t]*(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[a-z][a-z-]*)\}[ \t]*(?P<arg>.*)$")
OPTION = re.compile(r"^[ \t]*:[a-z-]+:")
LABEL = re.compile(r"^[ \t]*\((?P<label>[^()\s]+)\)=[ \t]*$")
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
ADMONITIONS = {
    "admonition": "",
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "dropdown": "Details",
}


def colab_markdown(text: str, source: Path) -> str:
    """A MyST markdown cell of ``source`` as plain Markdown that Colab renders.

    * ``{glue:text}`name:.1%``` -> ``name`` in code font (``glue`` prints ``name = value`` there);
    * ``{cite:p}`a,b``` -> (A et al., 2017; B and C, 2019), ``{cite:t}`a``` -> A et al. (2017),
      each linked to the book's references page;
    * ``{doc}`text <target>``` and ``{ref}`text <label>``` -> links to the book's pages;
    * ``(label)=`` lines are dropped, admonitions become quoted blocks ``> **Title**``;
    * a ``{figure}`` becomes its image, as the published book serves it, and its caption;
    * code fences and ``$math$`` stay as they are.

    An unknown role or directive raises ValueError naming it, so that nothing raw reaches Colab.
    """
    lines, out, prose = text.split("\n"), [], []

    def flush() -> None:
        if prose:
            out.append(_roles("\n".join(prose), source))
            prose.clear()

    i = 0
    while i < len(lines):
        line, fence = lines[i], FENCE.match(lines[i])
        if LABEL.match(line):
            i += 1
            continue
        if fence is None:
            prose.append(line)
            i += 1
            continue
        flush()
        indent, mark = fence["indent"], fence["fence"]
        end = i + 1
        while end < len(lines) and not _closes(lines[end], mark):
            end += 1
        directive = DIRECTIVE.match(fence["info"])
        if directive is None:  # a plain code block: verbatim
            out.extend(lines[i : end + 1])
        else:
            body = [_dedent(body_line, indent) for body_line in lines[i + 1 : end]]
            quoted = _directive(directive["name"], directive["arg"].strip(), body, source)
            out.extend(f"{indent}{q}".rstrip() for q in quoted)
        i = end + 1
    flush()
    return "\n".join(out)


def _closes(line: str, mark: str) -> bool:
    """True if ``line`` closes a fence opened with ``mark`` (as many fence characters, or more)."""
    stripped = line.strip()
    return len(stripped) >= len(mark) and set(stripped) == {mark[0]}


def _dedent(line: str, indent: str) -> str:
    return line[len(indent) :] if line.startswith(indent) else line.lstrip()


def _directive(name: str, arg: str, body: list[str], source: Path) -> list[str]:
    """A directive as Markdown lines: an admonition as a quote, ``{math}`` as ``$$ ... $$``,
    ``{figure}`` as an image and its caption."""
    options = {}
    while body and OPTION.match(body[0]):
        key, _, value = body[0].strip()[1:].partition(":")
        options[key] = value.strip()
        body = body[1:]
    if name == "math":
        return ["$$", *body, "$$"]
    if name == "figure":
        return _figure(arg, options.get("alt", ""), body, source)
    if name not in ADMONITIONS:
        raise ValueError(
            f"{source.relative_to(ROOT)}: directive {{{name}}} has no Colab form "
            f"(expected one of {', '.join(['math', 'figure', *ADMONITIONS])}); "
            "teach colab_markdown"
        )
    title = arg or ADMONITIONS[name] or "Note"
    inner = colab_markdown("\n".join(body), source).strip("\n").split("\n")
    title = _roles(title, source)
    return [f"> **{title}**", ">", *(f"> {line}" if line.strip() else ">" for line in inner)]


def _figure(path: str, alt: str, body: list[str], source: Path) -> list[str]:
    """``{figure}`` as Markdown: the image where the published book serves it (Sphinx copies
    every figure to ``_images/`` under its own name; a path relative to the source would not
    reach Colab), then the caption in italics."""
    image = (source.parent / path).resolve()
    if not image.is_file():
        raise ValueError(f"{source.relative_to(ROOT)}: figure {path!r} is no file")
    caption = _roles(" ".join(line.strip() for line in body if line.strip()), source)
    alt = " ".join((alt or caption).split()).replace("[", "\\[").replace("]", "\\]")
    lines = [f"![{alt}]({book_url()}_images/{image.name})"]
    return [*lines, "", f"*{caption}*"] if caption else lines


def _roles(text: str, source: Path) -> str:
    """Every MyST role in ``text`` rewritten as Markdown by ``_role``."""
    return ROLE.sub(lambda match: _role(match["name"], match["content"], source), text)


def _role(name: str, content: str, source: Path) -> str:
    """One MyST role as Markdown (see ``colab_markdown``)."""
    if name in ("glue", "glue:text", "glue:any"):
        return f"`{content.split(':')[0].strip()}`"
    if name in ("cite", "cite:p", "cite:t"):
        keys = [key.strip() for key in content.split(",") if key.strip()]
        link = book_url() + "book/references.html"
        if name == "cite:t":
            return ", ".join(f"[{_authors(k)} ({_year(k)})]({link})" for k in keys)
        return "(" + "; ".join(f"[{_authors(k)}, {_year(k)}]({link})" for k in keys) + ")"
    explicit = EXPLICIT.match(content)
    text, target = (explicit["text"], explicit["target"]) if explicit else ("", content)
    target = " ".join(target.split())
    if name == "doc":
        page = _resolve(source, target)
        return f"[{' '.join(text.split()) or _title(page)}]({_page_url(page)})"
    if name == "ref":
        labels = _labels()
        if target not in labels:
            raise ValueError(
                f"{source.relative_to(ROOT)}: {{ref}} label {target!r} is defined by no "
                f"(label)= line in {' or '.join(SOURCE_DIRS)}/"
            )
        page, fragment, heading = labels[target]
        return f"[{' '.join(text.split()) or heading}]({_page_url(page)}{fragment})"
    if name == "math":
        return f"${content}$"
    raise ValueError(
        f"{source.relative_to(ROOT)}: role {{{name}}} has no Colab form "
        "(expected glue, cite:p, cite:t, doc, ref or math); teach colab_markdown"
    )


def _page_url(page: Path) -> str:
    """The book's HTML address of a source page (``book/x.md`` -> ``<book>/book/x.html``)."""
    return book_url() + page.relative_to(ROOT).with_suffix(".html").as_posix()


def _resolve(source: Path, target: str) -> Path:
    """The ``.md`` page a ``{doc}`` target names, relative to ``source`` (or ROOT for ``/x``)."""
    base = ROOT if target.startswith("/") else source.parent
    page = (base / (target.lstrip("/") + ".md")).resolve()
    if not page.is_file():
        raise ValueError(f"{source.relative_to(ROOT)}: {{doc}} target {target!r} is no page")
    return page


def _title(page: Path) -> str:
    """The first ``# `` heading of a page (its title in the book)."""
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem


@functools.cache
def _labels() -> dict[str, tuple[Path, str, str]]:
    """Every ``(label)=`` of book/ and exercises/: label -> (page, ``#label`` or ``""`` for a
    label on the page's title, the text of the heading that follows the label)."""
    found = {}
    for page in sorted(path for folder in SOURCE_DIRS for path in (ROOT / folder).rglob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            match = LABEL.match(line)
            if match:
                label = match["label"]
                after = next((rest.strip() for rest in lines[number + 1 :] if rest.strip()), "")
                heading = after.lstrip("#").strip() if after.startswith("#") else label
                fragment = "" if after.startswith("# ") else f"#{label}"
                found[label] = (page, fragment, heading)
    return found


@functools.cache
def _bibliography():
    """The entries of book/references.bib (pybtex), read once."""
    from pybtex.database import parse_file

    return parse_file(ROOT / "book" / "references.bib").entries


def _entry(key: str):
    entries = _bibliography()
    if key not in entries:
        raise ValueError(f"citation key {key!r} is not in book/references.bib")
    return entries[key]


def _authors(key: str) -> str:
    """'A', 'A and B' or 'A et al.': the authors' last names, TeX accents decoded."""
    from pybtex.richtext import Text

    people = _entry(key).persons["author"]
    names = [
        Text.from_latex(" ".join(p.prelast_names + p.last_names)).render_as("text") for p in people
    ]
    if len(names) == 1:
        return names[0]
    if len(names) == 2 and names[1] != "others":
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def _year(key: str) -> str:
    return _entry(key).fields["year"]


def _cell_id(path: Path, index: int, source: str) -> str:
    """A stable cell id, so regenerating an unchanged source gives identical bytes."""
    digest = hashlib.sha1(f"{path.relative_to(ROOT)}:{index}:{source}".encode())
    return digest.hexdigest()[:12]


def render(source: Path) -> str:
    """The generated notebook for ``source``, as the exact text that is written to disk."""
    nb = jupytext.read(source)
    is_exercise = source.relative_to(ROOT).parts[0] == "exercises"
    cells = []
    for index, cell in enumerate(nb.cells):
        tags = list(cell.metadata.get("tags", []))
        text = cell.source
        if cell.cell_type == "code" and is_exercise and BEGIN in text:
            text = strip_solutions(text)
            tags = [tag for tag in tags if tag not in ("hide-input", "hide-cell")]
        metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(text, metadata=metadata)
        elif cell.cell_type == "markdown":
            text = colab_markdown(text, source)
            new = nbformat.v4.new_markdown_cell(text, metadata=metadata)
        else:
            new = nbformat.v4.new_raw_cell(text, metadata=metadata)
        new["id"] = _cell_id(source, index, text)
        cells.append(new)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
        "mmcourse": {"generated_from": str(source.relative_to(ROOT)), "do_not_edit": True},
    }
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def install_cell_problems(source: Path) -> list[str]:
    """Check that the first code cell installs this branch of the library when it is missing."""
    nb = jupytext.read(source)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    if not code:
        return [f"{source.relative_to(ROOT)}: no code cell"]
    first = code[0]
    match = INSTALL_LINE.search(first)
    expected = f'%pip install -q "{install_spec()}"'
    if "import mmcourse" not in first or match is None:
        return [
            f"{source.relative_to(ROOT)}: the first code cell must try `import mmcourse` and, "
            f"when that fails, run `{expected}`"
        ]
    if match.group(0).strip() != expected:
        return [
            f"{source.relative_to(ROOT)}: install line is `{match.group(0).strip()}`, "
            f"expected `{expected}` (run: python tools/notebooks.py)"
        ]
    return []


def fix_install_line(source: Path) -> bool:
    """Rewrite the install line of a source to the configured repository; True if changed."""
    text = source.read_text(encoding="utf-8")
    new = INSTALL_LINE.sub(
        lambda m: f'{m.group("indent")}%pip install -q "{install_spec()}"', text, count=1
    )
    if new != text:
        source.write_text(new, encoding="utf-8")
        return True
    return False


def stale() -> list[str]:
    """Every problem ``--check`` reports: stale or missing notebooks, strays, bad install lines."""
    problems = []
    expected = {target(src): src for src in sources()}
    for out, src in expected.items():
        problems += install_cell_problems(src)
        if not out.exists():
            problems.append(f"missing {out.relative_to(ROOT)} (from {src.relative_to(ROOT)})")
        elif out.read_text(encoding="utf-8") != render(src):
            diff = difflib.unified_diff(
                out.read_text(encoding="utf-8").splitlines(),
                render(src).splitlines(),
                "on disk",
                "regenerated",
                n=1,
                lineterm="",
            )
            problems.append(
                f"stale {out.relative_to(ROOT)} (from {src.relative_to(ROOT)}):\n"
                + "\n".join(list(diff)[:20])
            )
    for out in sorted(OUT_DIR.rglob("*.ipynb")) if OUT_DIR.exists() else []:
        if out not in expected:
            problems.append(f"stray {out.relative_to(ROOT)}: no MyST source generates it")
    return problems


def write() -> None:
    expected = {target(src): src for src in sources()}
    for out, src in expected.items():
        if fix_install_line(src):
            print(f"updated install line in {src.relative_to(ROOT)}")
        out.parent.mkdir(parents=True, exist_ok=True)
        text = render(src)
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            out.write_text(text, encoding="utf-8")
            print(f"wrote {out.relative_to(ROOT)}")
    for out in sorted(OUT_DIR.rglob("*.ipynb")):
        if out not in expected:
            out.unlink()
            print(f"removed stray {out.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale notebooks, write none")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem)
        if problems:
            print("\nrun: python tools/notebooks.py", file=sys.stderr)
        return 1 if problems else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
