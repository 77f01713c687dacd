"""Check the built HTML book (after `jupyter-book build .`): every Colab link lands on a notebook.

    python tools/check_site.py [_build/html]

For every page built from a MyST notebook it checks that the page shows an "Open in Colab" badge,
that every Colab link on any page points into this repository's configured branch, and that the
file it names exists in the repository and is up to date with its source (tools/notebooks.py).
It also fails on a page that shows a literal, unrendered glue role.
Exit status 1 on any problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebooks  # noqa: E402 (the generator next to this file)

ROOT = notebooks.ROOT
COLAB = re.compile(r'https://colab\.research\.google\.com/github/([^"\'<> ]+?\.ipynb)')


def problems(html_dir: Path) -> list[str]:
    found = []
    if not (html_dir / "index.html").exists():
        return [f"no built book in {html_dir}; run: jupyter-book build ."]
    url, branch = notebooks.repository()
    prefix = url.removeprefix("https://github.com/") + f"/blob/{branch}/"
    pages = [str(src.relative_to(ROOT).with_suffix("")) for src in notebooks.sources()]
    for page in pages:
        html = html_dir / f"{page}.html"
        if not html.exists():
            found.append(f"{page}: not built (is it in _toc.yml?)")
            continue
        text = html.read_text(encoding="utf-8")
        if 'class="colab-badge"' not in text:
            found.append(f"{page}: no Open in Colab badge")
        if f"{prefix}notebooks/{page}.ipynb" not in text:
            found.append(f"{page}: no Colab link to notebooks/{page}.ipynb")
        if re.search(r"\{glue(:\w+)?\}`", text):
            found.append(f"{page}: an unrendered glue role")
    stale = {p.split(" ")[1] for p in notebooks.stale() if p.startswith(("stale", "missing"))}
    for html in sorted(html_dir.rglob("*.html")):
        for target in set(COLAB.findall(html.read_text(encoding="utf-8"))):
            if not target.startswith(prefix):
                found.append(f"{html.relative_to(html_dir)}: Colab link outside {prefix}: {target}")
                continue
            path = target.removeprefix(prefix)
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
