"""One command for each thing a contributor does; needs only Python 3.10+ to start.

    python3 tools/dev.py test     # set up .venv if needed, then run every test and notebook
    python3 tools/dev.py book     # set up .venv if needed, then build the HTML book (-W)
    python3 tools/dev.py setup    # only create/refresh .venv

Each command prints the plain commands it runs, which are the ones the README lists, so nothing
here is magic: you can always run them yourself. The virtual environment is reinstalled only when
pyproject.toml changes. Set MMCOURSE_VENV to use another location than .venv.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("MMCOURSE_VENV", ROOT / ".venv")).resolve()
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def run(*command: str | Path) -> None:
    """Run a command in the repository root, echoing it; stop on failure."""
    words = [str(c) for c in command]
    print("+", shlex.join(words), flush=True)
    result = subprocess.run(words, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def setup() -> None:
    """Create the virtual environment and install the library with its book and test extras."""
    if sys.version_info < (3, 10):  # noqa: UP036 (this script may be started by an older Python)
        sys.exit(f"Python 3.10 or newer is needed, this is {sys.version.split()[0]}")
    stamp = VENV / ".mmcourse-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"+ python3 -m venv {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PYTHON, "-m", "pip", "install", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "-e", ".[book,test]")
    stamp.write_text(wanted + "\n")


def test(extra: list[str]) -> None:
    """Unit and property tests, and every notebook through nbval (configured in pyproject)."""
    setup()
    run(PYTHON, "-m", "pytest", *extra)


def book(extra: list[str]) -> None:
    """Build the HTML book; warnings are errors. --all re-reads every page so none is hidden."""
    setup()
    run(PYTHON, "tools/notebooks.py", "--check")
    run(BIN / "jupyter-book", "build", ".", "-W", "--keep-going", "--all", *extra)
    run(PYTHON, "tools/check_site.py")
    print(f"\nThe book is in {ROOT / '_build' / 'html' / 'index.html'}")


def main() -> None:
    commands = {"setup": lambda extra: setup(), "test": test, "book": book}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
