"""Every exercise, both directions.

* The reference solutions pass every checker: the tests execute each exercise source
  (conftest.py), solutions included, and a failing check fails that run.
* The learner version (the generated Colab notebook) gives nothing away, and when it is run as
  a learner first opens it, every check cell reports "not written yet" as a ``CheckFailed``,
  while every other cell runs without error. So the stubs are rejected and no checker crashes
  on them. Typical wrong answers are rejected in tests/test_check_<chapter>.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

import notebooks
from tests._tools import ROOT

EXERCISES = [s for s in notebooks.sources() if s.relative_to(ROOT).parts[0] == "exercises"]
CHECK_CALL = re.compile(r"^check\.\w+\(", re.M)
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def _ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_are_exercises():
    assert EXERCISES, "no exercise notebooks found"


@pytest.mark.parametrize("source", EXERCISES, ids=_ids)
def test_every_task_has_a_solution_region_and_a_check(source):
    cells = [c for c in jupytext.read(source).cells if c.cell_type == "code"]
    tasks = [c for c in cells if notebooks.BEGIN in c.source]
    checks = [c for c in cells if CHECK_CALL.search(c.source)]
    assert len(tasks) >= 4, f"{_ids(source)}: {len(tasks)} tasks with solution markers, want >= 4"
    assert len(checks) >= len(tasks), f"{_ids(source)}: some task has no check cell"
    for index, cell in enumerate(cells[:-1]):
        if notebooks.BEGIN in cell.source:
            assert CHECK_CALL.search(cells[index + 1].source), (
                f"{_ids(source)}: the cell after a task must call a checker:\n{cell.source}"
            )


@pytest.mark.parametrize("source", EXERCISES, ids=_ids)
def test_learner_version_gives_nothing_away(source):
    learner = nbformat.reads(notebooks.render(source), as_version=4)
    text = "\n".join(cell.source for cell in learner.cells)
    assert notebooks.BEGIN not in text and notebooks.END not in text
    # The code a task statement shows in a fenced block (the broken code of a find-the-bug task)
    # is given on purpose: a solution line it contains gives nothing away.
    markdown = [cell.source for cell in learner.cells if cell.cell_type == "markdown"]
    shown = "\n".join(block for md in markdown for block in FENCED.findall(md))
    for cell in jupytext.read(source).cells:
        if cell.cell_type != "code" or notebooks.BEGIN not in cell.source:
            continue
        inside = cell.source.split(notebooks.BEGIN, 1)[1].split(notebooks.END, 1)[0]
        for line in inside.strip().splitlines():
            if line.strip() and not line.strip().startswith("#") and line.strip() not in shown:
                assert line.strip() not in text, f"solution line leaked: {line.strip()}"


@pytest.mark.parametrize("source", EXERCISES, ids=_ids)
def test_learner_version_rejects_every_stub_without_crashing(source, tmp_path):
    learner = nbformat.reads(notebooks.render(source), as_version=4)
    NotebookClient(
        learner,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    n_checks = 0
    for cell in learner.cells:
        if cell.cell_type != "code":
            continue
        errors = [out for out in cell.outputs if out.output_type == "error"]
        if CHECK_CALL.search(cell.source):
            n_checks += 1
            assert errors, f"the check passed on an unsolved stub:\n{cell.source}"
            assert errors[0].ename == "CheckFailed", (
                f"the check raised {errors[0].ename}: {errors[0].evalue}\n{cell.source}"
            )
            assert "not written yet" in errors[0].evalue, errors[0].evalue
        else:
            assert not errors, (
                f"a cell that is not a check failed in the learner version: "
                f"{errors[0].ename}: {errors[0].evalue}\n{cell.source}"
            )
    assert n_checks >= 4
