"""One command for each thing a contributor does; needs only Python 3.10+ to start.

    python3 tools/dev.py test     # set up .venv if needed, then run every test and notebook
    python3 tools/dev.py book     # set up .venv if needed, then build the HTML book (-W)
    python3 tools/dev.py browser  # open every built page in headless Chromium, laptop and phone
    python3 tools/dev.py setup    # only create/refresh .venv

Extra arguments go to pytest (``test``) or jupyter-book (``book``). Each command prints the plain
commands it runs, which are the ones the README lists, so nothing here is magic: you can always
run them yourself. ``COMMANDS`` below is the one definition of them; .ci/run and the GitHub
workflows call this script instead of repeating them. The virtual environment is reinstalled
only when pyproject.toml changes. Set MMCOURSE_VENV to use another location than .venv (a path
relative to the repository root, or absolute); .ci/run uses _build/ci-venv.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands(venv: str | Path) -> dict[str, list[list[str]]]:
    """The plain commands of each subcommand, for a virtual environment at ``venv``.

    ``python3`` stands for the Python that runs this script.
    """
    bin_dir = Path(venv) / ("Scripts" if os.name == "nt" else "bin")
    python = str(bin_dir / "python")
    return {
        "setup": [
            ["python3", "-m", "venv", str(venv)],
            [python, "-m", "pip", "install", "--upgrade", "pip"],
            [python, "-m", "pip", "install", "-e", ".[book,test]"],
        ],
        "test": [[python, "-m", "pytest"], [python, "tools/execution.py"]],
        "book": [
            [python, "tools/notebooks.py", "--check"],
            [str(bin_dir / "jupyter-book"), "build", ".", "-W", "--keep-going", "--all"],
            [python, "tools/check_site.py"],
        ],
        "browser": [[python, "tools/check_browser.py"]],
    }


VENV = os.environ.get("MMCOURSE_VENV", ".venv")
COMMANDS = commands(VENV)


def run(command: list[str]) -> None:
    """Run a command in the repository root, echoing it; stop on failure."""
    print("+", shlex.join(command), flush=True)
    program = sys.executable if command[0] == "python3" else command[0]
    if "/" in program or os.sep in program:  # a path in the table is relative to the root
        program = str(ROOT / program)
    result = subprocess.run([program, *command[1:]], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def setup() -> None:
    """Create the virtual environment and install the library with its book and test extras."""
    if sys.version_info < (3, 10):  # noqa: UP036 (this script may be started by an older Python)
        sys.exit(f"Python 3.10 or newer is needed, this is {sys.version.split()[0]}")
    create, *install = COMMANDS["setup"]
    python = ROOT / install[0][0]
    stamp = ROOT / VENV / ".mmcourse-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == wanted and python.exists():
        return
    if not python.exists():
        run(create)
    for command in install:
        run(command)
    stamp.write_text(wanted + "\n")


def test(extra: list[str]) -> None:
    """Unit and property tests and every notebook (conftest.py), then the notebooks' times."""
    setup()
    pytest, times = COMMANDS["test"]
    run(pytest + extra)
    run(times)


def book(extra: list[str]) -> None:
    """Build the HTML book; warnings are errors. --all re-reads every page so none is hidden."""
    setup()
    check_notebooks, build, check_site = COMMANDS["book"]
    run(check_notebooks)
    run(build + extra)
    run(check_site)
    print(f"\nThe book is in {ROOT / '_build' / 'html' / 'index.html'}")


CHROMIUM_INSTALL = [
    ["apt-get", "update", "-qq"],
    ["apt-get", "install", "-y", "-qq", "chromium"],
]


def browser(extra: list[str]) -> None:
    """Check the built book in a real browser (tools/check_browser.py), installing Debian's
    Chromium first when it is missing and this user may (root with apt-get, as in CI)."""
    setup()
    if not os.environ.get("CHROMIUM") and not shutil.which("chromium"):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            sys.exit("Chromium is needed: install Debian's 'chromium' package, or set CHROMIUM")
        for command in CHROMIUM_INSTALL:
            run(command)
    (check,) = COMMANDS["browser"]
    run(check + extra)


def main() -> None:
    subcommands = {"setup": lambda extra: setup(), "test": test, "book": book, "browser": browser}
    if len(sys.argv) < 2 or sys.argv[1] not in subcommands:
        sys.exit(__doc__)
    subcommands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
