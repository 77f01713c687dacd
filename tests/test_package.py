"""The package as a whole: cheap to import, every module importable, lint-clean."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys

import pytest

import mmcourse
from tests._tools import ROOT

HEAVY = (
    "torchvision",
    "torchaudio",
    "matplotlib",
    "seaborn",
    "sklearn",
    "pandas",
    "scipy",
    "transformers",
)


def test_import_does_not_load_heavy_libraries():
    code = (
        "import sys, mmcourse, mmcourse.check;"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"import mmcourse loads {result.stdout.strip()}"


@pytest.mark.parametrize(
    "name", [m.name for m in pkgutil.walk_packages(mmcourse.__path__, "mmcourse.")]
)
def test_every_module_imports_and_has_a_docstring(name):
    module = importlib.import_module(name)
    assert module.__doc__ and module.__doc__.strip(), f"{name} has no module docstring"


def test_public_functions_have_docstrings_and_type_hints():
    import inspect

    for info in pkgutil.walk_packages(mmcourse.__path__, "mmcourse."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj):
                continue
            if obj.__module__ != module.__name__:
                continue
            assert obj.__doc__, f"{info.name}.{name} has no docstring"
            assert "return" in obj.__annotations__, f"{info.name}.{name} has no return annotation"


def test_version_matches_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert mmcourse.__version__ == project["version"]


# The test runs `python -m ruff`, so what must be present is the module, not a `ruff` on PATH.
@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed for this Python"
)
def test_ruff_is_clean():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "mmcourse",
            "tests",
            "tools",
            "_ext",
            "conftest.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
