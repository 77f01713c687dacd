"""Open every page of the built book in a real headless Chromium, as a reader would, offline.

    python tools/check_browser.py [_build/html]

Every chapter, exercise and appendix page is opened at 1280 px (a laptop) and at 390 px (a
phone) with the network blocked, and the check fails on:

- an error in the browser console, or an uncaught script error;
- math left as raw TeX (``\\(``, ``$$``): MathJax must come from the site itself;
- an image that did not load;
- an element wider than the text column that is not inside a box that scrolls sideways;
- a display formula wider than the column (its box would scroll: split it over lines with
  ``aligned``, so that a reader on a phone sees all of it at once);
- at 390 px, a menu button that does not open the chapter list;
- an exercise page whose downloadable notebook holds the reference solutions.

It saves one screenshot per page and width in ``_build/screenshots/`` (CI keeps them). It
needs Chromium (Debian's ``chromium`` package; set ``CHROMIUM`` to use another binary) and the
``playwright`` package, which drives it without downloading a browser of its own. Exit status 1
on any problem.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import notebooks

ROOT = notebooks.ROOT
WIDTHS = (1280, 390)

# Elements wider than the article that are not inside something that scrolls sideways.
OVERFLOW = """() => {
  const article = document.querySelector("article.bd-article");
  if (!article) return [];
  const width = article.clientWidth, found = [];
  const scrolls = (e) => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
  for (const e of article.querySelectorAll("*")) {
    if (e.getBoundingClientRect().width <= width + 1 || scrolls(e)) continue;
    let p = e.parentElement, boxed = false;
    while (p && p !== article) { if (scrolls(p)) { boxed = true; break; } p = p.parentElement; }
    if (!boxed) found.push(`${e.tagName.toLowerCase()}.${String(e.className).slice(0, 40)}`);
  }
  return found.slice(0, 3);
}"""

RAW_TEX = r"""() => {
  const main = document.querySelector("main");
  return main ? (main.innerText.match(/\\\(|\\\[|\$\$/g) || []).length : 0;
}"""

# Display formulas wider than their box, after MathJax has typeset them: the TeX of each.
WIDE_MATH = """async () => {
  if (!window.MathJax?.startup?.promise) return [];
  await MathJax.startup.promise;
  const found = [];
  for (const item of MathJax.startup.document.math) {
    const box = item.typesetRoot;
    if (!item.display || !box) continue;
    const math = box.querySelector("mjx-math");
    if (math && math.getBoundingClientRect().width > box.clientWidth + 1)
      found.push(item.math.trim().replace(/\\s+/g, " ").slice(0, 60));
  }
  return found;
}"""

BROKEN_IMAGES = """() => Array.from(document.images)
  .filter((img) => img.complete && img.naturalWidth === 0)
  .map((img) => img.getAttribute("src"))"""


def pages(html_dir: Path) -> list[str]:
    """The book's pages: every chapter, exercise and appendix (not the search page)."""
    found = sorted(html_dir.glob("book/*.html")) + sorted(html_dir.glob("exercises/*.html"))
    return [page.relative_to(html_dir).with_suffix("").as_posix() for page in found]


def menu_opens(page) -> bool:
    """Click the visible menu button on a phone-sized page; the chapter list must open."""
    visible = [b for b in page.query_selector_all(".primary-toggle") if b.is_visible()]
    if not visible:
        return False
    visible[0].click()
    page.wait_for_timeout(300)
    return bool(
        page.evaluate("() => Boolean(document.getElementById('pst-primary-sidebar-modal')?.open)")
    )


def downloads_a_solution(page, html_dir: Path, name: str) -> str:
    """For an exercise page, the problem with its downloadable notebook, if any."""
    source = ROOT / f"{name}.md"
    if not name.startswith("exercises/") or not notebooks.is_myst_notebook(source):
        return ""
    hrefs = page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href*=\"_sources/\"]'))"
        ".map((a) => a.getAttribute('href'))"
    )
    for href in hrefs:
        served = (html_dir / name).parent / href
        if served.suffix == ".md":
            return f"offers its source {href}, which holds the solutions"
        if served.suffix == ".ipynb" and served.exists():
            if served.read_bytes() != notebooks.target(source).read_bytes():
                return f"offers {href}, which is not the learner's notebook"
    return ""


def problems(html_dir: Path, shots: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    found = []
    shots.mkdir(parents=True, exist_ok=True)
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900})
            context.route(  # offline: a page may load nothing but its own files
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith("file:") else route.abort()
                ),
            )
            for name in pages(html_dir):
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else 0)
                page.on("pageerror", lambda error, e=errors: e.append(str(error)))
                page.goto((html_dir / f"{name}.html").as_uri())
                page.wait_for_load_state("load")
                page.wait_for_timeout(400)  # MathJax typesets after the load event
                where = f"{name} at {width} px"
                found += [f"{where}: console error: {text[:120]}" for text in errors]
                if raw := page.evaluate(RAW_TEX):
                    found.append(f"{where}: {raw} formula(s) left as raw TeX")
                found += [f"{where}: image did not load: {s}" for s in page.evaluate(BROKEN_IMAGES)]
                if wide := page.evaluate(OVERFLOW):
                    found.append(f"{where}: wider than the column, not scrollable: {wide}")
                found += [
                    f"{where}: formula wider than the column: {t}" for t in page.evaluate(WIDE_MATH)
                ]
                if problem := downloads_a_solution(page, html_dir, name):
                    found.append(f"{where}: {problem}")
                page.screenshot(path=str(shots / f"{name.replace('/', '_')}_{width}.png"))
                if width < 992 and not menu_opens(page):
                    found.append(f"{where}: the menu button does not open the chapter list")
                page.close()
            context.close()
        browser.close()
    return found


def main() -> int:
    html_dir = (Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html").resolve()
    if not (html_dir / "index.html").exists():
        print(f"no built book in {html_dir}; run: jupyter-book build .")
        return 1
    shots = html_dir.parent / "screenshots"
    issues = problems(html_dir, shots)
    for issue in issues:
        print(issue)
    n = len(pages(html_dir))
    verdict = "OK" if not issues else f"{len(issues)} problem(s)"
    print(f"opened {n} pages at {' and '.join(f'{w} px' for w in WIDTHS)}: {verdict}")
    print(f"screenshots in {shots}")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
