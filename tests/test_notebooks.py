"""The notebooks' conventions, and the Colab links: every link lands on a generated notebook that
exists, is up to date with its MyST source, and installs the library from the configured branch."""

from __future__ import annotations

import re

import jupytext
import nbformat
import pytest
import yaml

from tests._tools import ROOT, book_extension, notebooks_tool

SOURCES = notebooks_tool.sources()


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
    problems = notebooks_tool.stale()
    assert not problems, "\n".join(problems)


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    toc = _toc_files()
    for entry in toc:
        assert (ROOT / f"{entry}.md").exists(), f"_toc.yml lists {entry}, which has no .md file"
    for source in SOURCES:
        entry = str(source.relative_to(ROOT).with_suffix(""))
        assert entry in toc, f"{entry} is not in _toc.yml"


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_colab_link_lands_on_a_generated_notebook(source):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    page = str(source.relative_to(ROOT).with_suffix(""))
    url = book_extension.colab_url(
        config["repository"]["url"], config["repository"]["branch"], page
    )
    prefix = "https://colab.research.google.com/github/mmcourse/mmcourse/blob/main/"
    assert url.startswith("https://colab.research.google.com/github/")
    path = url.split(f"/blob/{config['repository']['branch']}/", 1)[1]
    assert (ROOT / path).is_file(), f"{url} points at {path}, which does not exist"
    assert path == f"notebooks/{page}.ipynb"
    if config["repository"]["url"] == "https://github.com/mmcourse/mmcourse":
        assert url == prefix + path


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_first_code_cell_installs_seeds_and_picks_the_device(source):
    assert not notebooks_tool.install_cell_problems(source)
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
        nb = nbformat.reads(notebooks_tool.render(source), as_version=4)
        nbformat.validate(nb)
        assert "jupytext" not in nb.metadata
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert nb.metadata["mmcourse"]["generated_from"] == str(source.relative_to(ROOT))


def test_install_spec_derives_from_the_config(tmp_path, monkeypatch):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    assert notebooks_tool.install_spec() == f"mmcourse @ git+{url}@{branch}"
    # Changing the repository in one place changes the install line the command writes.
    source = tmp_path / "page.md"
    source.write_text(
        "try:\n    import mmcourse\nexcept ImportError:\n"
        '    %pip install -q "mmcourse @ git+https://example.org/old@v0"\n'
    )
    assert notebooks_tool.fix_install_line(source)
    assert f'%pip install -q "mmcourse @ git+{url}@{branch}"' in source.read_text()
    assert not notebooks_tool.fix_install_line(source)


def test_strip_solutions_keeps_indentation_and_rejects_unbalanced_markers():
    code = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    stub = notebooks_tool.strip_solutions(code)
    assert "return 2 * x" not in stub
    assert '    raise NotImplementedError("replace this line with your code")' in stub
    compile(stub, "stub", "exec")
    with pytest.raises(ValueError, match="never closed"):
        notebooks_tool.strip_solutions("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        notebooks_tool.strip_solutions("x = 1\n### END SOLUTION\n")


def test_readme_colab_links_land_on_generated_notebooks():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    prefix = (
        f"https://colab.research.google.com/github/{repo}/blob/{config['repository']['branch']}/"
    )
    links = re.findall(
        r"https://colab\.research\.google\.com/github/[^)\s`]+\.ipynb",
        (ROOT / "README.md").read_text(),
    )
    assert links, "the README has no Colab links"
    for link in links:
        assert link.startswith(prefix), link
        assert (ROOT / link.removeprefix(prefix)).is_file(), f"README links to missing {link}"
