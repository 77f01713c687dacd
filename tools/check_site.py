"""Check the built HTML book (after `jupyter-book build .`): every Colab link lands on a notebook.

    python tools/check_site.py [_build/html]

For every page built from a MyST notebook it checks that the page shows an "Open in Colab" badge,
that every Colab link on any page points into this repository's configured branch, and that the
file it names exists in the repository and is up to date with its source (tools/notebooks.py).
It also fails on a page that shows a literal, unrendered glue role, and on an exercise page
whose downloadable files hold the reference solutions (the learner's notebook must be served),
and unless the execution-status page lists every notebook as run cleanly.
Exit status 1 on any problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import notebooks  # tools/notebooks.py: which files are notebooks, the repository, Colab URLs

ROOT = notebooks.ROOT


def problems(html_dir: Path) -> list[str]:
    found = []
    if not (html_dir / "index.html").exists():
        return [f"no built book in {html_dir}; run: jupyter-book build ."]
    prefix = notebooks.colab_prefix()
    for source in notebooks.sources():
        page = source.relative_to(ROOT).with_suffix("").as_posix()
        html = html_dir / f"{page}.html"
        if not html.exists():
            found.append(f"{page}: not built (is it in _toc.yml?)")
            continue
        text = html.read_text(encoding="utf-8")
        if 'class="colab-badge"' not in text:
            found.append(f"{page}: no Open in Colab badge")
        if notebooks.colab_url(source) not in text:
            found.append(f"{page}: no Colab link to {notebooks.colab_url(source)}")
        if re.search(r"\{glue(:\w+)?\}`", text):
            found.append(f"{page}: an unrendered glue role")
        if page.startswith("exercises/"):
            served = html_dir / "_sources" / page
            if served.with_suffix(".md").exists() or f"_sources/{page}.md" in text:
                found.append(f"{page}: the .md source, with the solutions, is downloadable")
            notebook = served.with_suffix(".ipynb")
            if notebook.exists() and notebook.read_bytes() != notebooks.target(source).read_bytes():
                found.append(f"{page}: the downloadable notebook is not the learner version")
    status = html_dir / "book" / "status.html"
    if not status.exists():
        found.append("book/status: the execution-status page was not built")
    else:
        text = status.read_text(encoding="utf-8")
        rows = re.findall(r"<tr><td><a [^>]*>.*?</tr>", text)
        if len(rows) != len(notebooks.sources()) or any("✓" not in row for row in rows):
            found.append(f"book/status: {len(rows)} rows, not every notebook with a clean run")
    stale = {p.split(" ")[1] for p in notebooks.stale() if p.startswith(("stale", "missing"))}
    for html in sorted(html_dir.rglob("*.html")):
        for link in sorted(set(notebooks.colab_links(html.read_text(encoding="utf-8")))):
            if not link.startswith(prefix):
                found.append(f"{html.relative_to(html_dir)}: Colab link outside {prefix}: {link}")
                continue
            path = link.removeprefix(prefix)
            if not (ROOT / path).is_file():
                found.append(f"{html.relative_to(html_dir)}: Colab link to missing {path}")
            elif path in stale:
                found.append(f"{html.relative_to(html_dir)}: Colab link to stale {path}")
    return found


def main() -> int:
    html_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"
    issues = problems(html_dir.resolve())
    for issue in issues:
        print(issue)
    n = len(notebooks.sources())
    print(f"checked {n} notebook pages: {'OK' if not issues else f'{len(issues)} problem(s)'}")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
