"""Execute each MyST notebook once, and keep the executed notebook for the book.

    python tools/execution.py             # each notebook's last execution time and its budget
    python tools/execution.py --enforce   # the same, and exit 1 if one is over its budget

The tests execute every chapter and exercise (conftest.py collects each MyST notebook as one
test that calls :func:`run`). A notebook that runs without error is stored, with the seconds it
took, in the execution cache that the book build reads (myst-nb's ``cache`` mode, jupyter-cache),
under the same key myst-nb computes: the notebook as myst-nb reads it. The book therefore
renders the very outputs the tests checked, and executes only what the tests did not.

The cache lives in ``_build/.jupyter_cache/<library hash>``: the key jupyter-cache computes sees
only a notebook's code, but every notebook imports ``mmcourse``, so each version of the library
gets a cache of its own (``_ext/mmcourse_book.py`` points the book at the same folder).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"book": 90.0, "exercises": 15.0}  # seconds on 2 CPU cores (issue #14)


def library_hash() -> str:
    """A hash of everything the notebooks import from this repository (``mmcourse/**.py``)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "mmcourse").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_path() -> Path:
    """The execution cache of this version of the library."""
    return ROOT / "_build" / ".jupyter_cache" / library_hash()[:16]


def timeout() -> int:
    """Seconds a cell may run: ``execute.timeout`` in ``_config.yml``, as for the book."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return int(config.get("execute", {}).get("timeout", 300))


def read(source: Path):
    """The notebook as myst-nb reads it for the book (so that both compute the same cache key)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    text = Path(source).read_text(encoding="utf-8")
    return read_myst_markdown_notebook(text, MdParserConfig(), add_source_map=True, path=source)


def _cache():
    from jupyter_cache import get_cache

    return get_cache(str(cache_path()))


@dataclass
class Result:
    seconds: float
    error: str | None  # the failing cell and its traceback, or None


def run(source: Path) -> Result:
    """Execute ``source`` in a fresh kernel, in its own folder; cache it if no cell failed."""
    from filelock import FileLock
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    source = Path(source).resolve()
    notebook = read(source)
    result = single_nb_execution(
        notebook, cwd=str(source.parent), allow_errors=False, timeout=timeout(), meta_override=True
    )
    if result.err is not None:
        from nbclient.exceptions import CellExecutionError

        # A failing cell: its source and the learner-style traceback, without nbclient's frames.
        error = str(result.err) if isinstance(result.err, CellExecutionError) else result.exc_string
        return Result(result.time, re.sub(r"\x1b\[[0-9;]*m", "", error or repr(result.err)))
    cache_path().mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_path() / "write.lock")):  # parallel test workers share the cache
        _cache().cache_notebook_bundle(
            CacheBundleIn(notebook, str(source), data={"execution_seconds": result.time}),
            check_validity=False,
            overwrite=True,
        )
    return Result(result.time, None)


def times() -> dict[Path, float | None]:
    """Every notebook and the seconds its cached execution took (None: not executed)."""
    import notebooks

    found: dict[Path, float | None] = dict.fromkeys(notebooks.sources())
    if not cache_path().exists():
        return found
    cache = _cache()
    for source in found:
        try:
            record = cache.match_cache_notebook(read(source))
        except KeyError:
            continue
        found[source] = record.data.get("execution_seconds")
    return found


def budget(source: Path) -> float:
    return BUDGETS[source.relative_to(ROOT).parts[0]]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--enforce", action="store_true", help="exit 1 if a notebook is over its budget"
    )
    args = parser.parse_args(argv)
    found = times()
    print(f"{'notebook':<36} {'seconds':>8} {'budget':>7} {'ratio':>6}   ({cache_path().name})")
    over = []
    for source, seconds in found.items():
        name = str(source.relative_to(ROOT))
        if seconds is None:
            print(f"{name:<36} {'-':>8}   not executed with this library version")
            continue
        ratio = seconds / budget(source)
        flag = "  OVER" if ratio > 1 else ""
        print(f"{name:<36} {seconds:8.1f} {budget(source):7.0f} {ratio:6.2f}{flag}")
        if ratio > 1:
            over.append(name)
    total = sum(s for s in found.values() if s is not None)
    print(f"{'all notebooks, one after the other':<36} {total:8.1f}")
    missing = [s for s, t in found.items() if t is None]
    if args.enforce and (over or missing):
        print(f"over budget: {over}; not executed: {len(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
