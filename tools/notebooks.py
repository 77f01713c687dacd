"""Generate the Colab notebooks (``notebooks/**.ipynb``) from their MyST-Markdown sources.

    python tools/notebooks.py            # write every generated notebook
    python tools/notebooks.py --check    # exit 1 if anything is stale (what the tests check)

The MyST ``.md`` files in ``book/`` and ``exercises/`` are the only sources; the ``.ipynb``
files under ``notebooks/`` mirror their paths and are never edited by hand:

* a chapter's notebook is the chapter's cells, without outputs;
* an exercise's notebook is the *learner version*: every region between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by a stub that raises
  ``NotImplementedError``, as nbgrader does, and solution cells lose their ``hide-input`` tag.

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
INSTALL_LINE = re.compile(r'^(?P<indent>\s*)%pip install -q "mmcourse @ git\+[^"]*"\s*$', re.M)
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
    return f"mmcourse @ git+{url or default_url}@{branch or default_branch}"


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
