"""The notebooks' conventions, and the Colab links: every link lands on a generated notebook that
exists, is up to date with its MyST source, and installs the library from the configured branch.
Also: pytest collects exactly the MyST notebooks, and the README lists the commands tools/dev.py
runs."""

from __future__ import annotations

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
    assert notebooks.install_spec() == f"mmcourse @ git+{url}@{branch}"
    # Changing the repository in one place changes the install line the command writes.
    source = tmp_path / "page.md"
    source.write_text(
        "try:\n    import mmcourse\nexcept ImportError:\n"
        '    %pip install -q "mmcourse @ git+https://example.org/old@v0"\n'
    )
    assert notebooks.fix_install_line(source)
    assert f'%pip install -q "mmcourse @ git+{url}@{branch}"' in source.read_text()
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
