"""The architecture diagrams (book/figures/*.svg) are exactly what tools/figures.py draws, and
each is plain SVG that scales: a viewBox and no fixed size, a title, nothing external, and text
that stays readable when the figure is shown 358 px wide on a phone."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import figures
import pytest

from tests._tools import ROOT

SVG = "{http://www.w3.org/2000/svg}"


def test_figures_are_up_to_date():
    assert figures.main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(figures.FIGURES))
def test_figure_scales_and_reads_on_a_phone(name):
    path = ROOT / "book" / "figures" / f"{name}.svg"
    root = ET.parse(path).getroot()
    assert root.get("width") is None and root.get("height") is None
    width = float(root.get("viewBox").split()[2])
    assert width <= 600
    assert root.find(SVG + "title").text.strip()
    assert not re.search(r"<image|@import|@font-face|href=\"http", path.read_text("utf-8"))
    sizes = [float(e.get("font-size")) for e in root.iter() if e.get("font-size")]
    assert min(sizes) >= 12 and min(sizes) * 358 / width >= 7.5
