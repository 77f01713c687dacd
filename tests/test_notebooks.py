"""The notebooks' conventions, and the Colab links: every link lands on a generated notebook that
exists, is up to date with its MyST source, and installs the library from the configured branch.
The code cells fit the column a code block shows (76 characters) and pass ruff; the setup cell
is the same everywhere and collapsed. Also: pytest collects exactly the MyST notebooks, and the
README lists the commands tools/dev.py runs."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys

import dev
import jupytext
import nbformat
import pytest
import yaml

import notebooks
from tests._tools import ROOT

SOURCES = notebooks.sources()


def _ids(path):
    return str(path.relative_to(ROOT))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files += [section["file"] for section in chapter.get("sections", [])]
    return files


def test_generated_notebooks_are_up_to_date():
    problems = notebooks.stale()
    assert not problems, "\n".join(problems)


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    toc = _toc_files()
    for entry in toc:
        assert (ROOT / f"{entry}.md").exists(), f"_toc.yml lists {entry}, which has no .md file"
    for source in SOURCES:
        entry = str(source.relative_to(ROOT).with_suffix(""))
        assert entry in toc, f"{entry} is not in _toc.yml"


def test_there_are_notebooks_and_pytest_collects_exactly_them():
    assert len(SOURCES) >= 10, SOURCES
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "book", "exercises"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    collected = set(re.findall(r"^(\S+\.md)::", result.stdout, re.M))
    assert collected == {_ids(source) for source in SOURCES}


def test_is_myst_notebook_reads_the_header_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(notebooks, "ROOT", tmp_path)
    header = "---\njupytext:\n  text_representation:\n    format_name: myst\n"
    notebook = header + "kernelspec:\n  name: python3\n---\n\n# A page\n"
    pages = {
        "book/nb.md": notebook,
        "exercises/sub/nb.md": notebook,
        "book/plain.md": "# Not a notebook\n",
        "book/no_kernel.md": header + "---\n\nkernelspec: only in the text\n",
        "book/unclosed.md": header + "kernelspec:\n  name: python3\n",
        "book/nb.txt": notebook,
        "other/nb.md": notebook,
        "top.md": notebook,
        "book/_build/nb.md": notebook,
        "book/.ipynb_checkpoints/nb.md": notebook,
    }
    for name, text in pages.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = {name for name in pages if notebooks.is_myst_notebook(tmp_path / name)}
    assert found == {"book/nb.md", "exercises/sub/nb.md"}
    assert notebooks.sources() == [tmp_path / "book/nb.md", tmp_path / "exercises/sub/nb.md"]


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_colab_link_lands_on_a_generated_notebook(source):
    url = notebooks.colab_url(source)
    page = source.relative_to(ROOT).with_suffix("").as_posix()
    assert url == notebooks.colab_prefix() + f"notebooks/{page}.ipynb"
    assert (ROOT / f"notebooks/{page}.ipynb").is_file(), f"{url} points at a missing file"
    if notebooks.repository() == ("https://github.com/mmcourse/mmcourse", "main"):
        assert url == (
            "https://colab.research.google.com/github/mmcourse/mmcourse/blob/main/"
            f"notebooks/{page}.ipynb"
        )


def test_colab_url_follows_the_configured_repository(monkeypatch):
    monkeypatch.setattr(notebooks, "repository", lambda: ("https://github.com/org/repo", "dev"))
    assert notebooks.colab_url(ROOT / "book" / "02_convolution.md") == (
        "https://colab.research.google.com/github/org/repo/blob/dev/"
        "notebooks/book/02_convolution.ipynb"
    )
    monkeypatch.setattr(notebooks, "repository", lambda: ("https://gitlab.com/org/repo", "dev"))
    with pytest.raises(ValueError, match=r"repository\.url.*https://github\.com/.*gitlab\.com"):
        notebooks.colab_prefix()


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_first_code_cell_installs_seeds_and_picks_the_device(source):
    assert not notebooks.install_cell_problems(source)
    first = next(c.source for c in jupytext.read(source).cells if c.cell_type == "code")
    assert "set_seed(" in first and "get_device()" in first, first


def test_setup_cell_is_the_same_everywhere_and_collapsed():
    firsts = {}
    for source in SOURCES:
        cell = next(c for c in jupytext.read(source).cells if c.cell_type == "code")
        assert "hide-input" in cell.metadata.get("tags", []), f"{_ids(source)}: not collapsed"
        firsts.setdefault(cell.source, []).append(_ids(source))
    assert len(firsts) == 1, f"the setup cells differ: {sorted(firsts.values())}"


CODE_COLUMNS = 76  # what a code block shows at 1280 px; the rest of a longer line is cut off
# Lint the code cells as the project's code, except: imports come in later cells (E402), the
# line length is the 76-column test's job (E501), names follow the formulas (`I`, `l`: E741),
# and zips of deliberately unequal sequences need no strict= (B905).
NOTEBOOK_RUFF_IGNORE = "E402,E501,E741,B905"


def code_cells(source) -> list[tuple[int, list[str]]]:
    """Each code cell of a MyST notebook: the line number of its first code line, its lines.

    A cell's options (``:tags: [...]`` lines and the blank line after them, or a ``---``
    block) are not code. jupytext reads the same cells (a test checks it).
    """
    lines = source.read_text(encoding="utf-8").split("\n")
    cells, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("```{code-cell}"):
            i += 1
            continue
        i += 1
        if lines[i] == "---":
            i = lines.index("---", i + 1) + 1
        elif lines[i].startswith(":"):
            while lines[i].startswith(":"):
                i += 1
            i += lines[i] == ""
        start = i
        while not lines[i].startswith("```"):
            i += 1
        cells.append((start + 1, lines[start:i]))
        i += 1
    return cells


def long_code_lines(source) -> list[str]:
    """``file:line: N characters`` for every code line wider than the column.

    The install line that tools/notebooks.py writes is exempt: it must stay one line.
    """
    found = []
    for first, lines in code_cells(source):
        for number, line in enumerate(lines, first):
            if len(line) > CODE_COLUMNS and not notebooks.INSTALL_LINE.match(line):
                name = source.relative_to(notebooks.ROOT)
                found.append(f"{name}:{number}: {len(line)} characters")
    return found


def test_code_cells_are_read_as_jupytext_reads_them():
    for source in SOURCES:
        ours = ["\n".join(lines) for _, lines in code_cells(source)]
        cells = jupytext.read(source).cells
        assert ours == [c.source for c in cells if c.cell_type == "code"], _ids(source)


def test_notebook_code_lines_fit_the_column():
    found = [problem for source in SOURCES for problem in long_code_lines(source)]
    assert not found, (
        f"{len(found)} notebook code lines are wider than {CODE_COLUMNS} columns, the width "
        "a code block shows; wrap them:\n" + "\n".join(found)
    )


def test_long_code_lines_are_found_and_the_install_line_is_exempt(tmp_path, monkeypatch):
    monkeypatch.setattr(notebooks, "ROOT", tmp_path)
    fits, too_long = "x" * CODE_COLUMNS, "y" * (CODE_COLUMNS + 1)
    install = f'    %pip install -q "git+https://example.org/{"r" * 70}@main"'
    page = tmp_path / "book" / "page.md"
    page.parent.mkdir()
    page.write_text(
        f"---\nkernelspec:\n  name: python3\n---\n\n{too_long} in prose\n\n"
        f"```{{code-cell}} ipython3\n:tags: [hide-input]\n\n{fits}\n{install}\n```\n\n"
        f"```{{code-cell}} ipython3\n{too_long}\n```\n"
    )
    assert long_code_lines(page) == [f"book/page.md:16: {CODE_COLUMNS + 1} characters"]


def _ruff_notebook(source, folder):
    """The code cells of ``source`` (solutions included) as a notebook file ruff can lint."""
    cells = [
        nbformat.v4.new_code_cell(c.source)
        for c in jupytext.read(source).cells
        if c.cell_type == "code"
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    path = folder / (_ids(source).replace("/", "__").removesuffix(".md") + ".ipynb")
    path.write_text(nbformat.writes(notebook), encoding="utf-8")
    return path


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed for this Python"
)
def test_notebook_code_passes_ruff(tmp_path):
    by_file = {str(_ruff_notebook(source, tmp_path)): source for source in SOURCES}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--extend-ignore",
            NOTEBOOK_RUFF_IGNORE,
            "--no-cache",
            "--output-format",
            "json",
            *by_file,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 1), result.stderr
    found = []
    for problem in json.loads(result.stdout):
        source, cell = by_file[problem["filename"]], problem.get("cell")
        # The setup cell is the same everywhere; an exercise glues nothing.
        if cell == 1 and problem["code"] == "F401" and "glue" in problem["message"]:
            continue
        where = f"{_ids(source)}, code cell {cell}"
        if cell is not None:
            first = code_cells(source)[cell - 1][0]
            where = f"{_ids(source)}:{first + problem['location']['row'] - 1}"
        found.append(f"{where}: {problem['code']} {problem['message']}")
    assert not found, "ruff on the notebooks' code cells:\n" + "\n".join(found)


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_header_has_a_python3_kernelspec(source):
    nb = jupytext.read(source)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "myst"


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_no_hard_coded_device_and_no_downloads(source):
    code = "\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "code")
    assert not re.search(r"""(device\s*=\s*["'](cuda|cpu)|\.cuda\(\)|torch\.device\(["'])""", code)
    assert not re.search(r"download=True|urlretrieve|urlopen\(|requests\.get\(", code)


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_every_glued_name_in_the_prose_is_glued_by_code(source):
    nb = jupytext.read(source)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    used = set(re.findall(r"\{glue(?::\w+)?\}`([\w-]+)", prose))
    glued = set(re.findall(r"""glue\(\s*["']([\w-]+)["']""", code))
    assert used <= glued, f"glued in prose but never in code: {sorted(used - glued)}"


def test_generated_notebook_is_a_plain_valid_notebook():
    for source in SOURCES:
        nb = nbformat.reads(notebooks.render(source), as_version=4)
        nbformat.validate(nb)
        assert "jupytext" not in nb.metadata
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert nb.metadata["mmcourse"]["generated_from"] == str(source.relative_to(ROOT))


def test_install_spec_derives_from_the_config(tmp_path, monkeypatch):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    assert notebooks.install_spec() == f"git+{url}@{branch}"
    # Changing the repository in one place changes the install line the command writes.
    source = tmp_path / "page.md"
    source.write_text(
        "try:\n    import mmcourse\nexcept ImportError:\n"
        '    %pip install -q "mmcourse @ git+https://example.org/old@v0"\n'
    )
    assert notebooks.fix_install_line(source)
    assert f'%pip install -q "git+{url}@{branch}"' in source.read_text()
    assert not notebooks.fix_install_line(source)


def test_strip_solutions_keeps_indentation_and_rejects_unbalanced_markers():
    code = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    stub = notebooks.strip_solutions(code)
    assert "return 2 * x" not in stub
    assert '    raise NotImplementedError("replace this line with your code")' in stub
    compile(stub, "stub", "exec")
    with pytest.raises(ValueError, match="never closed"):
        notebooks.strip_solutions("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        notebooks.strip_solutions("x = 1\n### END SOLUTION\n")


def test_readme_colab_links_land_on_generated_notebooks():
    prefix = notebooks.colab_prefix()
    links = notebooks.colab_links((ROOT / "README.md").read_text())
    assert links, "the README has no Colab links"
    for link in links:
        assert link.startswith(prefix), link
        assert (ROOT / link.removeprefix(prefix)).is_file(), f"README links to missing {link}"


def test_readme_lists_the_commands_dev_py_runs():
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    listed = [shlex.split(line, comments=True) for block in blocks for line in block.splitlines()]
    for name, commands in dev.commands(".venv").items():
        for command in commands:
            assert command in listed, f"the README does not list `{shlex.join(command)}` ({name})"
