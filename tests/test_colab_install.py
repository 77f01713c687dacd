"""The Colab path, end to end: a generated notebook's own install cell, run in a fresh virtual
environment where ``mmcourse`` is not importable, installs the library from a git clone of this
tree (``git+file://``, standing in for GitHub) and then the whole notebook executes.

The fresh environment borrows the heavy, unrelated dependencies (torch, Jupyter) from the test
environment through a ``.pth`` line, as Colab has them preinstalled; ``mmcourse`` itself must come
from the install cell, which the test verifies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

import notebooks
from tests._tools import ROOT

NOTEBOOK = ROOT / "notebooks" / "book" / "02_convolution.ipynb"


def _run(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _snapshot(tmp_path: Path, branch: str) -> Path:
    """A git repository holding this working tree (tracked and new files) on ``branch``."""
    files = _run("git", "ls-files", "-co", "--exclude-standard", cwd=ROOT)
    if files.returncode != 0:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    for name in files.stdout.splitlines():
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    for command in (
        ("git", "init", "-q", "-b", branch),
        ("git", "add", "-A"),
        ("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "snapshot"),
    ):
        assert _run(*command, cwd=clone).returncode == 0, command
    return clone


def test_install_cell_installs_this_branch_and_the_notebook_runs(tmp_path):
    url, branch = notebooks.repository()
    clone = _snapshot(tmp_path, branch)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)  # pip, like torch, is borrowed below
    python = env_dir / "bin" / "python"
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    # Borrow torch, Jupyter, pytest, pip... (but not mmcourse: .pth files in a borrowed folder are
    # not processed, so the editable install of the test environment does not leak in).
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    before = _run(python, "-c", "import mmcourse", cwd=tmp_path)
    assert before.returncode != 0, "mmcourse must not be importable before the install cell runs"

    # The generated Colab notebook, with GitHub replaced by the local clone; nothing else changes.
    text = NOTEBOOK.read_text()
    spec = notebooks.install_spec()
    assert f'%pip install -q \\"{spec}\\"' in text, (
        "the notebook's install cell is not the expected one"
    )
    local = notebooks.install_spec(url=f"file://{clone}", branch=branch)
    notebook = tmp_path / "run" / NOTEBOOK.name
    notebook.parent.mkdir()
    notebook.write_text(text.replace(spec, local))

    execute = (
        "import sys, nbformat, nbclient; nb = nbformat.read(sys.argv[1], 4); "
        "nbclient.NotebookClient(nb, timeout=300, kernel_name='python3').execute()"
    )
    result = _run(python, "-c", execute, notebook.name, cwd=notebook.parent, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    where = _run(python, "-c", "import mmcourse; print(mmcourse.__file__)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(env_dir.resolve()), where.stdout
