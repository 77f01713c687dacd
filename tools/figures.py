"""Write the book's architecture diagrams, plain SVG files, to book/figures/.

    python tools/figures.py            # (re)write every figure
    python tools/figures.py --check    # exit 1 if a file is missing or differs from this script

The diagrams are drawn here, in code, so that all ten share one palette and one set of sizes and
can be redrawn after a change of notation. Every figure is sized for a phone: its viewBox is at
most 600 units wide and its labels at least 15 units high, so that shown 358 px wide a label is
still about 9.5 px. Colours (Okabe & Ito's palette, safe for colour-blind readers): inputs blue,
learned operations orange, parameter-free operations grey, outputs green, gradients vermillion
and dashed. Text is black or a dark shade; math letters are serif italic.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "figures"

SANS = "Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
SERIF = "'Times New Roman', Times, 'Liberation Serif', 'DejaVu Serif', serif"

# kind -> (stroke, fill, text)
KINDS = {
    "input": ("#0072B2", "#DCEBF7", "#004A75"),
    "learned": ("#E69F00", "#FDEBC8", "#222222"),
    "fixed": ("#6E6E6E", "#FFFFFF", "#222222"),
    "output": ("#009E73", "#B8E6D3", "#004D38"),
    "grad": ("#D55E00", "#FBE1CF", "#B34700"),
    "plain": ("#333333", "#FFFFFF", "#222222"),
    "none": ("none", "none", "#222222"),
}
INK = "#222222"
LINE = "#333333"
MUTED = "#555555"

FONT = 16  # labels
SMALL = 15  # secondary labels: the smallest size a label may have
SUB = 12.5  # subscripts and superscripts

# Function names set upright in math.
UPRIGHT = {
    "tanh",
    "diag",
    "softmax",
    "LN",
    "MHA",
    "GELU",
    "MLP",
    "vec",
    "log",
    "exp",
    "ReLU",
    "mean",
    "out",
}


# ---------------------------------------------------------------------------------------------
# Text: a tiny math markup. Outside $...$ plain sans text; inside, letters are serif italic
# (known function names upright), _x / _{..} a subscript and ^x / ^{..} a superscript.


def _groups(math: str) -> list[tuple[str, str]]:
    """Split math into ("base" | "sub" | "sup", text) pieces."""
    pieces: list[tuple[str, str]] = []
    i = 0
    base = ""
    while i < len(math):
        ch = math[i]
        if ch in "_^" and i + 1 < len(math):
            if base:
                pieces.append(("base", base))
                base = ""
            if math[i + 1] == "{":
                end = math.index("}", i + 2)
                content, i = math[i + 2 : end], end + 1
            else:
                content, i = math[i + 1], i + 2
            pieces.append(("sub" if ch == "_" else "sup", content))
        else:
            base += ch
            i += 1
    if base:
        pieces.append(("base", base))
    return pieces


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split math text into (run, italic) by letters, function names and everything else."""
    runs: list[tuple[str, bool]] = []
    for word in re.findall(r"[A-Za-z]+|[α-ωΑ-Ω]|[^A-Za-zα-ωΑ-Ω]+", text):
        italic = bool(re.match(r"[A-Za-zα-ω]", word)) and word not in UPRIGHT
        if runs and runs[-1][1] == italic:
            runs[-1] = (runs[-1][0] + word, italic)
        else:
            runs.append((word, italic))
    return runs


def rich(s: str, size: float) -> str:
    """The tspans of a label in the markup above, at font size ``size``."""
    out: list[str] = []
    shift = 0.0  # the current baseline offset, undone by the next piece's dy
    pending = 0.0  # a horizontal move owed to the next piece (after a stacked sub/sup)
    small = max(SUB, round(size * 0.78, 1))
    previous = ("", "")

    def emit(text: str, cls: str, font: float | None, target: float, dx: float) -> None:
        nonlocal shift
        attrs = f' class="{cls}"' if cls else ""
        if font is not None:
            attrs += f' font-size="{font:g}"'
        if target != shift:
            attrs += f' dy="{target - shift:g}"'
        if abs(dx) > 0.05:
            attrs += f' dx="{dx:.1f}"'
        shift = target
        out.append(f"<tspan{attrs}>{escape(text)}</tspan>")

    for index, part in enumerate(s.split("$")):
        if not part:
            continue
        if index % 2 == 0:
            emit(part, "", None, 0.0, pending)
            pending, previous = 0.0, ("", "")
            continue
        for kind, text in _groups(part):
            target = {"base": 0.0, "sub": 0.3 * size, "sup": -0.42 * size}[kind]
            font = None if kind == "base" else small
            dx = pending
            pending = 0.0
            # a superscript right after a subscript (or the reverse) stands above it
            if {kind, previous[0]} == {"sub", "sup"}:
                first = text_width(f"${previous[1]}$", small)
                second = text_width(f"${text}$", small)
                dx -= first
                pending = max(0.0, first - second)
            for k, (run, italic) in enumerate(_runs(text)):
                emit(run, "m i" if italic else "m", font, target, dx if k == 0 else 0.0)
            previous = (kind, text)
    return "".join(out)


def text_width(s: str, size: float) -> float:
    """A rough width of a label (for layout checks only)."""
    width = 0.0
    for index, part in enumerate(s.split("$")):
        if index % 2 == 0:
            width += sum(_char_width(c) for c in part) * size
            continue
        for kind, text in _groups(part):
            scale = 1.0 if kind == "base" else max(SUB, size * 0.78) / size
            width += sum(_char_width(c) for c in text) * size * scale
    return width


def _char_width(c: str) -> float:
    if c in "iljtfI.,;:!|()[]'1 ":
        return 0.3
    if c in "mwMW":
        return 0.8
    return 0.56


# ---------------------------------------------------------------------------------------------
# The drawing


class Svg:
    """A figure: shapes and labels in viewBox units, written as plain SVG 1.1."""

    def __init__(self, width: float, height: float, title: str) -> None:
        self.width, self.height, self.title = width, height, title
        self.items: list[str] = []

    def raw(self, item: str) -> None:
        self.items.append(item)

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: float = FONT,
        anchor: str = "middle",
        color: str = INK,
        bold: bool = False,
        rotate: float | None = None,
    ) -> None:
        """A label whose baseline is at ``y``."""
        attrs = f'x="{x:g}" y="{y:g}" font-size="{size:g}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        attrs += f' fill="{color}"'
        if bold:
            attrs += ' font-weight="bold"'
        if rotate is not None:
            attrs += f' transform="rotate({rotate:g} {x:g} {y:g})"'
        self.raw(f"<text {attrs}>{rich(s, size)}</text>")

    def ctext(self, x: float, y: float, s: str, size: float = FONT, **kw) -> None:
        """A label centred vertically on ``y`` (one line or several, split at newlines)."""
        lines = s.split("\n")
        step = size * 1.22
        top = y - step * (len(lines) - 1) / 2
        for k, line in enumerate(lines):
            self.text(x, top + k * step + 0.35 * size, line, size, **kw)

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        kind: str = "plain",
        rx: float = 6,
        dash: bool = False,
        width: float = 1.6,
        fill: str | None = None,
        stroke: str | None = None,
    ) -> None:
        edge, face, _ = KINDS[kind]
        attrs = (
            f'x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{rx:g}" '
            f'fill="{fill or face}" stroke="{stroke or edge}" stroke-width="{width:g}"'
        )
        if dash:
            attrs += ' stroke-dasharray="5 4"'
        self.raw(f"<rect {attrs}/>")

    def box(
        self,
        cx: float,
        cy: float,
        w: float,
        h: float,
        label: str = "",
        kind: str = "plain",
        size: float = FONT,
        **kw,
    ) -> None:
        """A rounded box centred on (cx, cy) with a centred label."""
        self.rect(cx - w / 2, cy - h / 2, w, h, kind, **kw)
        if label:
            self.ctext(cx, cy, label, size, color=KINDS[kind][2])

    def path(
        self,
        points: Sequence[tuple[float, float]],
        color: str = LINE,
        width: float = 1.6,
        dash: bool = False,
        arrow: bool = True,
        halo: bool = False,
    ) -> None:
        """A polyline through ``points``, with an arrowhead at its end unless ``arrow=False``.

        ``halo``: a white edge on both sides, so that a line it crosses shows a gap.
        """
        d = "M" + " L".join(f"{x:g},{y:g}" for x, y in points)
        if halo:
            self.raw(f'<path d="{d}" fill="none" stroke="#FFFFFF" stroke-width="{width + 6:g}"/>')
        attrs = f'd="{d}" fill="none" stroke="{color}" stroke-width="{width:g}"'
        if dash:
            attrs += ' stroke-dasharray="6 4"'
        marker = "g" if color == KINDS["grad"][0] else ("b" if color == KINDS["input"][0] else "")
        if arrow:
            attrs += f' marker-end="url(#a{marker})"'
        self.raw(f"<path {attrs}/>")

    def arrow(self, x1: float, y1: float, x2: float, y2: float, **kw) -> None:
        self.path([(x1, y1), (x2, y2)], **kw)

    def dot(self, x: float, y: float, r: float = 3.2, color: str = LINE) -> None:
        self.raw(f'<circle cx="{x:g}" cy="{y:g}" r="{r:g}" fill="{color}"/>')

    def op(self, x: float, y: float, symbol: str, r: float = 12) -> None:
        """A parameter-free elementwise operation: ``"times"`` (⊙), ``"plus"`` or ``"sum"``."""
        edge, face, _ = KINDS["fixed"]
        self.raw(
            f'<circle cx="{x:g}" cy="{y:g}" r="{r:g}" fill="{face}" stroke="{edge}" '
            f'stroke-width="1.6"/>'
        )
        if symbol == "times":
            self.dot(x, y, r * 0.26, INK)
        elif symbol == "plus":
            a = r * 0.55
            self.raw(
                f'<path d="M{x - a:g},{y:g} L{x + a:g},{y:g} M{x:g},{y - a:g} L{x:g},{y + a:g}" '
                f'stroke="{INK}" stroke-width="1.8"/>'
            )
        else:
            self.ctext(x, y + 1, symbol, SMALL)

    def pill(self, x: float, y: float, label: str, w: float = 52, h: float = 26) -> None:
        """A parameter-free function (tanh, 1 −) as a grey pill."""
        self.box(x, y, w, h, label, "fixed", SMALL, rx=h / 2)

    def grid(
        self,
        x: float,
        y: float,
        rows: int,
        cols: int,
        cell: float,
        kind: str,
        values: Sequence[Sequence[str]] | None = None,
        size: float = FONT,
        width: float = 1.2,
    ) -> None:
        """A rows × cols grid of square cells with its top-left corner at (x, y)."""
        edge, face, ink = KINDS[kind]
        self.raw(
            f'<rect x="{x:g}" y="{y:g}" width="{cols * cell:g}" height="{rows * cell:g}" '
            f'fill="{face}" stroke="none"/>'
        )
        lines = [f"M{x:g},{y + r * cell:g} h{cols * cell:g}" for r in range(rows + 1)] + [
            f"M{x + c * cell:g},{y:g} v{rows * cell:g}" for c in range(cols + 1)
        ]
        self.raw(f'<path d="{" ".join(lines)}" stroke="{edge}" stroke-width="{width:g}"/>')
        if values is not None:
            for r in range(rows):
                for c in range(cols):
                    self.ctext(x + (c + 0.5) * cell, y + (r + 0.5) * cell, values[r][c], size)

    def render(self) -> str:
        grad, blue = KINDS["grad"][0], KINDS["input"][0]
        markers = []
        for suffix, color in (("", LINE), ("g", grad), ("b", blue)):
            markers.append(
                f'<marker id="a{suffix}" viewBox="0 0 10 10" refX="10" refY="5" '
                f'markerWidth="10" markerHeight="9" markerUnits="userSpaceOnUse" '
                f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            )
        style = (
            f"text {{ font-family: {SANS}; }}\n"
            f".m {{ font-family: {SERIF}; }}\n"
            ".i { font-style: italic; }"
        )
        return "\n".join(
            [
                '<?xml version="1.0" encoding="UTF-8"?>',
                f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
                f'viewBox="0 0 {self.width:g} {self.height:g}">',
                f"<title>{escape(self.title)}</title>",
                f'<style type="text/css">\n{style}\n</style>',
                "<defs>",
                *markers,
                "</defs>",
                f'<rect width="{self.width:g}" height="{self.height:g}" fill="#FFFFFF"/>',
                *self.items,
                "</svg>",
                "",
            ]
        )


# ---------------------------------------------------------------------------------------------
# Chapter 2


def conv_window() -> Svg:
    """Chapter 2's 4×4 ramp image and 2×2 kernel; the window behind y[1, 2]."""
    svg = Svg(566, 352, "Cross-correlation: a 2×2 kernel slides over a 4×4 image")
    cell = 46
    x0, y0 = 34, 62  # input grid
    k0, ky = 268, y0 + cell  # kernel grid
    o0, oy = 416, y0 + cell / 2  # output grid
    window, target = (1, 2), (1, 2)

    def cells(x: float, y: float, n: int, m: int, kind: str, values, hot=()) -> None:
        edge, face, _ = KINDS[kind]
        for r in range(n):
            for c in range(m):
                fill = face
                if kind == "output":
                    fill = "#E2F5EE"
                if (r, c) in hot:
                    fill = "#F9C97A" if kind == "input" else "#8AD5B9"
                svg.rect(x + c * cell, y + r * cell, cell, cell, kind, rx=0, width=1.2, fill=fill)
                svg.ctext(x + (c + 0.5) * cell, y + (r + 0.5) * cell, values[r][c], 17)
        for r in range(n):  # row indices on the left, column indices on top
            svg.ctext(x - 12, y + (r + 0.5) * cell, str(r), 13, color=MUTED)
        for c in range(m):
            svg.ctext(x + (c + 0.5) * cell, y - 11, str(c), 13, color=MUTED)

    values = [[str(4 * r + c) for c in range(4)] for r in range(4)]
    hot = {(window[0] + u, window[1] + v) for u in range(2) for v in range(2)}
    cells(x0, y0, 4, 4, "input", values, hot)
    svg.rect(
        x0 + window[1] * cell,
        y0 + window[0] * cell,
        2 * cell,
        2 * cell,
        "learned",
        rx=2,
        width=3.5,
        fill="none",
        stroke="#D98E00",
    )
    cells(k0, ky, 2, 2, "learned", [["1", "0"], ["0", "−1"]])
    svg.rect(k0, ky, 2 * cell, 2 * cell, "learned", rx=2, width=3.5, fill="none", stroke="#D98E00")
    cells(o0, oy, 3, 3, "output", [["−5"] * 3] * 3, {target})
    svg.rect(
        o0 + target[1] * cell,
        oy + target[0] * cell,
        cell,
        cell,
        "output",
        rx=2,
        width=3.5,
        fill="none",
        stroke="#006B4E",
    )

    svg.text(x0 + 2 * cell, 26, "input $x$, 4×4", 16)
    svg.text(k0 + cell, ky - 36, "kernel $w$, 2×2", 16)
    svg.text(o0 + 1.5 * cell, 26, "output $y$, 3×3", 16)
    svg.ctext((x0 + 4 * cell + k0) / 2, ky + cell + 2, "⋆", 40)
    svg.ctext((k0 + 2 * cell + o0) / 2 - 3, ky + cell, "=", 24)

    svg.text(283, 290, "$y[1, 2] = 1·6 + 0·7 + 0·10 + (−1)·11 = −5$", 17)
    svg.text(283, 326, "$y[i, j] = b + Σ_u Σ_v w[u, v]\u2009x[i + u, j + v]$, here $b = 0$", 16)
    return svg


def conv_channels() -> Svg:
    """C = 3 input channels, O = 2 output channels: a kernel per (o, c), summed, plus a bias."""
    svg = Svg(560, 504, "A convolution with 3 input channels and 2 output channels")
    columns = [72, 192, 312]  # one per input channel c
    rows = [190, 305]  # one per output channel o
    cell_in, cell_k, cell_out = 14, 13, 14
    map_top = 44
    sum_x, out_x = 440, 512
    blue = KINDS["input"][0]
    for c, cx in enumerate(columns):
        svg.grid(cx - 35, map_top, 5, 5, cell_in, "input")
        svg.text(cx, map_top - 12, f"$x[n, {c}]$", 16)
        feed = cx - 24
        for o, ky in enumerate(rows):
            kx = cx + 14
            svg.arrow(feed, ky, kx - 20.5, ky, color=blue)
            svg.grid(kx - 19.5, ky - 19.5, 3, 3, cell_k, "learned")
            svg.text(kx, ky - 28, f"$w[{o}, {c}]$", 15)
            svg.path([(kx, ky + 19.5), (kx, ky + 44)], arrow=False)
            if c:
                svg.dot(kx, ky + 44, 3)
    for o, ky in enumerate(rows):
        bus = ky + 44
        svg.path([(columns[0] + 14, bus), (sum_x - 13, bus)])
        if o == 0:  # the input channels pass over the first row's sum
            for cx in columns:
                svg.path(
                    [(cx - 24, map_top + 70), (cx - 24, rows[-1])],
                    color=blue,
                    arrow=False,
                    halo=True,
                )
                svg.dot(cx - 24, rows[0], 3, blue)
                svg.arrow(cx - 24, rows[-1], cx - 6.5, rows[-1], color=blue)
        svg.op(sum_x, bus, "plus", 13)
        svg.box(sum_x, bus - 52, 46, 28, f"$b[{o}]$", "learned", 15)
        svg.arrow(sum_x, bus - 38, sum_x, bus - 14)
        svg.arrow(sum_x + 13, bus, out_x - 22, bus)
        svg.grid(out_x - 21, bus - 21, 3, 3, cell_out, "output")
        svg.text(out_x, bus + 40, f"$y[n, {o}]$", 16)
    svg.text(380, 62, "$C$ = 3 input channels", 15, anchor="start")
    svg.text(380, 86, "$O$ = 2 output channels", 15, anchor="start")
    svg.text(380, 110, "kernels 3×3", 15, anchor="start")
    svg.text(
        280, 424, "$y[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v w[o, c, u, v]\u2009x[n, c, i_u, j_v]$", 16
    )
    svg.text(280, 452, "here stride 1, no padding: $i_u = i + u$, $j_v = j + v$", 15)
    svg.text(280, 484, "weight $(O, C, k_H, k_W)$ = (2, 3, 3, 3), bias $(O,)$ = (2,)", 15)
    return svg


# ---------------------------------------------------------------------------------------------
# Chapter 3


def cnn_pipeline() -> Svg:
    """mmcourse.encoders.ImageEncoder (defaults) and the Classifier's head, with shapes."""
    layers = [  # (label, kind, shape after it or "", group)
        ("input image", "input", "$(N, 1, 8, 8)$", ""),
        ("Conv2d 3×3, padding 1", "learned", "$(N, 32, 8, 8)$", "block 1"),
        ("BatchNorm2d", "learned", "", "block 1"),
        ("ReLU", "fixed", "", "block 1"),
        ("MaxPool2d 2×2", "fixed", "$(N, 32, 4, 4)$", "block 1"),
        ("Conv2d 3×3, padding 1", "learned", "$(N, 64, 4, 4)$", "block 2"),
        ("BatchNorm2d", "learned", "", "block 2"),
        ("ReLU", "fixed", "", "block 2"),
        ("MaxPool2d 2×2", "fixed", "$(N, 64, 2, 2)$", "block 2"),
        ("Flatten", "fixed", "$(N, 256)$", "projection"),
        ("Linear 256 → 64", "learned", "", "projection"),
        ("ReLU", "fixed", "$(N, 64)$  features", "projection"),
        ("Linear 64 → 10", "learned", "$(N, 10)$", "head"),
        ("logits", "output", "", ""),
    ]
    box_h, gap = 32, 26
    top = 14
    cx, w = 232, 206
    height = top + len(layers) * box_h + (len(layers) - 1) * gap + 14
    svg = Svg(520, height, "The CNN image encoder of chapter 3 and its classification head")
    centers = [top + box_h / 2 + k * (box_h + gap) for k in range(len(layers))]
    for k, (label, kind, shape, _) in enumerate(layers):
        svg.box(cx, centers[k], w, box_h, label, kind, SMALL)
        if k + 1 < len(layers):
            svg.arrow(cx, centers[k] + box_h / 2, cx, centers[k + 1] - box_h / 2)
        if shape:
            svg.text(cx + 18, centers[k] + box_h / 2 + gap / 2 + 5, shape, SMALL, anchor="start")
    # brackets on the left: the groups of layers
    groups: dict[str, list[int]] = {}
    for k, (*_, group) in enumerate(layers):
        if group:
            groups.setdefault(group, []).append(k)
    for name, members in groups.items():
        y1, y2 = centers[members[0]] - box_h / 2, centers[members[-1]] + box_h / 2
        x = cx - w / 2 - 12
        svg.path([(x + 6, y1), (x, y1), (x, y2), (x + 6, y2)], color=MUTED, arrow=False)
        svg.ctext(x - 8, (y1 + y2) / 2, name, SMALL, anchor="end", color=MUTED)
    encoder = [k for name in ("block 1", "block 2", "projection") for k in groups[name]]
    y1, y2 = centers[encoder[0]] - box_h / 2, centers[encoder[-1]] + box_h / 2
    svg.path([(22, y1), (14, y1), (14, y2), (22, y2)], color=MUTED, arrow=False)
    svg.text(30, (y1 + y2) / 2, "ImageEncoder", SMALL, color=MUTED, rotate=-90)
    return svg


# ---------------------------------------------------------------------------------------------
# Chapters 4 and 5


def legend_item(svg: Svg, x: float, y: float, kind: str, label: str) -> float:
    """A small key: a sample shape then its label; returns the x after it."""
    if kind == "forward":
        svg.arrow(x, y, x + 34, y)
    elif kind == "grad":
        svg.arrow(x, y, x + 34, y, color=KINDS["grad"][0], dash=True)
    elif kind == "op":
        svg.op(x + 17, y, "times", 11)
    else:
        svg.rect(x, y - 11, 34, 22, kind, rx=5)
    svg.text(x + 42, y + 5.5, label, SMALL, anchor="start")
    return x + 42 + text_width(label, SMALL) + 22


def rnn_unrolled() -> Svg:
    """The RNN unrolled over T steps; the gradient goes back through the states (BPTT)."""
    svg = Svg(540, 560, "A recurrent network unrolled over T steps, and the gradient back in time")
    red, red_text = KINDS["grad"][0], KINDS["grad"][2]
    cells = {1: 165, 2: 305, "T": 485}
    dots_x = 395
    y_loss, y_h, y_cell, y_x = 38, 112, 200, 292
    cw, ch, bw, bh = 80, 54, 48, 32
    # h_0 and the forward state arrows
    svg.box(45, y_cell, 50, bh, "$h_0$", "input", 17)
    previous = 70
    for t, x in cells.items():
        if t == "T":
            svg.ctext(dots_x, y_cell, "⋯", 22)
            svg.ctext(dots_x, y_h, "⋯", 22, color=red_text)
            svg.arrow(previous, y_cell, dots_x - 16, y_cell)
            previous = dots_x + 16
        svg.arrow(previous, y_cell, x - cw / 2, y_cell)
        svg.text((previous + x - cw / 2) / 2, y_cell - 9, "$W_{hh}$", 15)
        svg.box(x, y_cell, cw, ch, "tanh", "learned", 17)
        svg.box(x, y_x, bw, bh, f"$x_{t}$", "input", 17)
        svg.arrow(x, y_x - bh / 2, x, y_cell + ch / 2)
        svg.text(x + 7, (y_x + y_cell) / 2 + 10, "$W_{ih}$", 15, anchor="start")
        svg.box(x, y_h, bw, bh, f"$h_{t}$", "output", 17)
        svg.arrow(x, y_cell - ch / 2, x, y_h + bh / 2)
        svg.box(x, y_loss, bw, 30, f"$ℓ_{t}$", "plain", 17)
        svg.arrow(x - 9, y_h - bh / 2, x - 9, y_loss + 15)
        svg.arrow(x + 9, y_loss + 15, x + 9, y_h - bh / 2, color=red, dash=True)
        svg.text(x + bw / 2 + 4, y_h + bh / 2 + 16, f"$δ_{t}$", 16, anchor="start", color=red_text)
        previous = x + cw / 2
    # the gradient from each state to the one before
    xs = [cells[1], cells[2], dots_x, cells["T"]]
    for right, left in zip(xs[:0:-1], xs[-2::-1], strict=True):
        start = right - (bw / 2 if right != dots_x else 16)
        end = left + (bw / 2 if left != dots_x else 16)
        svg.arrow(start, y_h, end, y_h, color=red, dash=True)

    y = 356
    svg.text(270, y, "$h_t = tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t−1} + b_{hh})$", 16)
    svg.text(270, y + 27, "the same $W_{ih}$, $W_{hh}$, $b_{ih}$, $b_{hh}$ at every step", SMALL)
    svg.text(270, y + 62, "$L = Σ_t ℓ_t(h_t)$,   $δ_t = ∂L/∂h_t$", 16, color=red_text)
    svg.text(
        270,
        y + 89,
        "each step back multiplies by $W_{hh}^⊤diag(1 − h_t^2)$:",
        SMALL,
        color=red_text,
    )
    # the product of Jacobians, with its limits above and below the ∏
    py, px = y + 134, 222
    svg.text(px - 16, py, "$∂ℓ_T/∂h_{T−k}$ = (", 16, anchor="end", color=red_text)
    svg.text(px, py + 7, "∏", 30, color=red_text)
    svg.text(px, py - 22, "$T$", 13, color=red_text)
    svg.text(px, py + 25, "$t=T−k+1$", 13, color=red_text)
    svg.text(
        px + 16, py, "$W_{hh}^⊤diag(1 − h_t^2)$) $∂ℓ_T/∂h_T$", 16, anchor="start", color=red_text
    )
    x = 120
    x = legend_item(svg, x, 540, "forward", "forward")
    legend_item(svg, x, 540, "grad", "gradient")
    return svg


def cell_frame(svg: Svg, x1: float, y1: float, x2: float, y2: float) -> None:
    svg.rect(x1, y1, x2 - x1, y2 - y1, "plain", rx=14, width=1.2, fill="#FAFAFA", stroke="#BBBBBB")


def lstm_cell() -> Svg:
    """The LSTM cell with PyTorch's equations; the cell state runs straight along the top."""
    svg = Svg(560, 560, "The LSTM cell: gates i, f, g, o, and the cell state along the top")
    top, bus, gates = 66, 296, 240
    fx, ix, gx, ox = 122, 196, 270, 344
    mix, hx = 233, 446
    cell_frame(svg, 56, 28, 504, 326)
    # the cell state: straight along the top
    svg.text(28, top - 12, "$c_{t−1}$", 17)
    svg.arrow(4, top, fx - 12, top, width=3)
    svg.op(fx, top, "times")
    svg.arrow(fx + 12, top, mix - 12, top, width=3)
    svg.op(mix, top, "plus")
    svg.arrow(mix + 12, top, 556, top, width=3)
    svg.text(532, top - 12, "$c_t$", 17)
    svg.text(340, top - 12, "cell state", SMALL, color=MUTED)
    # the inputs: x_t joins h_{t-1} on the bus that feeds every gate
    svg.text(28, bus - 12, "$h_{t−1}$", 17)
    svg.path([(4, bus), (ox, bus)], arrow=False)
    svg.arrow(92, 352, 92, bus + 4)
    svg.dot(92, bus)
    svg.text(92, 372, "$x_t$", 17)
    for x, label in ((fx, "σ"), (ix, "σ"), (gx, "tanh"), (ox, "σ")):
        svg.arrow(x, bus, x, gates + 21)
        svg.box(x, gates, 58, 42, label, "learned", 17 if label == "σ" else SMALL)
    # the gates' outputs
    svg.arrow(fx, gates - 21, fx, top + 12)
    svg.text(fx + 7, 160, "$f_t$", 17, anchor="start")
    svg.path([(ix, gates - 21), (ix, 150), (mix - 12, 150)])
    svg.text(ix - 7, 190, "$i_t$", 17, anchor="end")
    svg.path([(gx, gates - 21), (gx, 150), (mix + 12, 150)])
    svg.text(gx + 7, 190, "$g_t$", 17, anchor="start")
    svg.op(mix, 150, "times")
    svg.arrow(mix, 138, mix, top + 12)
    svg.arrow(ox + 29, gates, hx - 12, gates)
    svg.text((ox + 29 + hx - 12) / 2, gates - 9, "$o_t$", 17)
    # h_t = o_t ⊙ tanh(c_t)
    svg.dot(hx, top)
    svg.arrow(hx, top, hx, 127)
    svg.pill(hx, 140, "tanh")
    svg.arrow(hx, 153, hx, gates - 12)
    svg.op(hx, gates, "times")
    svg.arrow(hx + 12, gates, 556, gates)
    svg.text(532, gates - 12, "$h_t$", 17)

    svg.text(280, 410, "$c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t$,   $h_t = o_t ⊙ tanh(c_t)$", 16)
    svg.text(280, 440, "$i_t = σ(W_{ii} x_t + b_{ii} + W_{hi} h_{t−1} + b_{hi})$", 16)
    svg.text(280, 468, "$f_t$ and $o_t$ alike; $g_t$ with tanh in place of σ", SMALL)
    x = legend_item(svg, 30, 520, "learned", "layer with weights")
    legend_item(svg, x, 520, "op", "elementwise operation")
    return svg


def gru_cell() -> Svg:
    """The GRU cell with PyTorch's equations (the reset gate multiplies W_hn h + b_hn)."""
    svg = Svg(560, 580, "The GRU cell: gates r and z, candidate n")
    top, bus, boxes = 62, 346, 292
    zx, rx, ax, bx = 118, 192, 300, 440
    cell_frame(svg, 56, 28, 504, 372)
    svg.text(28, top - 12, "$h_{t−1}$", 17)
    svg.arrow(4, top, zx - 12, top, width=3)
    svg.op(zx, top, "times")
    svg.arrow(zx + 12, top, bx - 12, top, width=3)
    svg.op(bx, top, "plus")
    svg.arrow(bx + 12, top, 556, top, width=3)
    svg.text(532, top - 12, "$h_t$", 17)
    svg.text(280, top - 12, "hidden state", SMALL, color=MUTED)
    # Two lines below the boxes: h_{t-1} (upper) feeds z, r and W_hn; x_t (lower) feeds z, r
    # and W_in. Where both feed a gate they join its input line (the dots).
    xbus = bus + 16
    svg.dot(72, top)
    svg.path([(72, top), (72, bus), (ax, bus)], arrow=False)
    svg.path([(zx, xbus), (bx, xbus)], arrow=False)
    svg.arrow(150, 400, 150, xbus + 4)
    svg.dot(150, xbus)
    svg.text(150, 420, "$x_t$", 17)
    for x in (zx, rx):
        svg.path([(x, xbus), (x, bus)], arrow=False)
        svg.dot(x, xbus)
        svg.dot(x, bus)
    for x, start, label, w in (
        (zx, bus, "σ", 56),
        (rx, bus, "σ", 56),
        (ax, bus, "$W_{hn} h_{t−1}$\n$+ b_{hn}$", 100),
        (bx, xbus, "$W_{in} x_t$\n$+ b_{in}$", 92),
    ):
        svg.arrow(x, start, x, boxes + 23)
        svg.box(x, boxes, w, 46, label, "learned", 17 if label == "σ" else SMALL)
    # z: keeps the old state (top) and lets in 1 - z of the candidate
    svg.arrow(zx, boxes - 23, zx, top + 12)
    svg.text(zx - 7, 210, "$z_t$", 17, anchor="end")
    svg.dot(zx, 112)
    svg.arrow(zx, 112, 346, 112)
    svg.pill(370, 112, "1 −", 46)
    svg.arrow(393, 112, bx - 12, 112)
    # r multiplies W_hn h + b_hn, bias included
    svg.path([(rx, boxes - 23), (rx, 222), (ax - 12, 222)])
    svg.text(rx + 7, 252, "$r_t$", 17, anchor="start")
    svg.op(ax, 222, "times")
    svg.arrow(ax, boxes - 23, ax, 234)
    svg.arrow(ax + 12, 222, bx - 12, 222)
    svg.op(bx, 222, "plus")
    svg.arrow(bx, boxes - 23, bx, 234)
    svg.arrow(bx, 210, bx, 180)
    svg.pill(bx, 167, "tanh")
    svg.arrow(bx, 154, bx, 124)
    svg.text(bx + 8, 146, "$n_t$", 17, anchor="start")
    svg.op(bx, 112, "times")
    svg.arrow(bx, 100, bx, top + 12)

    svg.text(280, 462, "$r_t = σ(W_{ir} x_t + b_{ir} + W_{hr} h_{t−1} + b_{hr})$;  $z_t$ alike", 16)
    svg.text(280, 492, "$n_t = tanh(W_{in} x_t + b_{in} + r_t ⊙ (W_{hn} h_{t−1} + b_{hn}))$", 16)
    svg.text(280, 522, "$h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}$", 16)
    x = legend_item(svg, 30, 560, "learned", "layer with weights")
    legend_item(svg, x, 560, "op", "elementwise operation")
    return svg


# ---------------------------------------------------------------------------------------------
# Chapter 8

MODALITIES = ("image", "text", "audio")


def fusion_stages() -> Svg:
    """Early, intermediate and late fusion, in the chapter's words, one panel each."""
    svg = Svg(560, 596, "Where to fuse: early, intermediate and late fusion")
    c1, c2, c3, c4, c5 = 54, 164, 292, 420, 514
    panels = [
        ("Early fusion", "the raw inputs are combined, before any encoder"),
        ("Intermediate fusion", "the encoders' feature vectors $x_m$ are combined"),
        ("Late fusion", "each modality predicts alone; the predictions are combined"),
    ]
    for k, (title, subtitle) in enumerate(panels):
        top = 6 + k * 198
        svg.rect(4, top, 552, 188, "plain", rx=10, width=1.2, fill="#FAFAFA", stroke="#BBBBBB")
        svg.text(16, top + 26, title, FONT, anchor="start", bold=True)
        svg.text(16, top + 50, subtitle, SMALL, anchor="start", color=MUTED)
        ys = [top + 84, top + 124, top + 164]
        mid = ys[1]
        tall = ys[2] - ys[0] + 32
        for name, y in zip(MODALITIES, ys, strict=True):
            svg.box(c1, y, 76, 30, name, "input", SMALL)
        if k == 0:
            for y in ys:
                svg.arrow(c1 + 38, y, c2 - 40, y)
            svg.box(c2, mid, 80, tall, "combine", "fixed", SMALL, width=2.6)
            svg.arrow(c2 + 40, mid, c3 - 40, mid)
            svg.box(c3, mid, 80, 30, "encoder", "learned", SMALL)
            svg.arrow(c3 + 40, mid, c4 - 38, mid)
            svg.box(c4, mid, 76, 30, "head", "learned", SMALL)
        elif k == 1:
            for m, y in enumerate(ys, 1):
                svg.arrow(c1 + 38, y, c2 - 40, y)
                svg.box(c2, y, 80, 30, "encoder", "learned", SMALL)
                svg.arrow(c2 + 40, y, c3 - 40, y)
                svg.text((c2 + c3) / 2, y - 7, f"$x_{m}$", SMALL)
            svg.box(c3, mid, 80, tall, "fusion", "learned", SMALL, width=2.6)
            svg.arrow(c3 + 40, mid, c4 - 38, mid)
            svg.box(c4, mid, 76, 30, "head", "learned", SMALL)
        else:
            for m, y in enumerate(ys, 1):
                svg.arrow(c1 + 38, y, c2 - 40, y)
                svg.box(c2, y, 80, 30, "encoder", "learned", SMALL)
                svg.arrow(c2 + 40, y, c3 - 40, y)
                svg.box(c3, y, 80, 30, "head", "learned", SMALL)
                svg.arrow(c3 + 40, y, c4 - 38, y)
                svg.text((c3 + 40 + c4 - 38) / 2, y - 10, f"log $p_{m}$", SMALL)
            svg.box(c4, mid, 76, tall, "average", "fixed", SMALL, width=2.6)
        svg.arrow(c4 + 38, mid, c5 - 34, mid)
        svg.box(c5, mid, 68, 30, "scores", "output", SMALL)
    return svg


BARS = (26, 18, 32)  # the feature sizes d_m, drawn as bar lengths
ROWS = (66, 102, 138)  # the rows of the three modalities inside a panel


def panel_inputs(svg: Svg, one: bool = False) -> list[float]:
    """The three feature vectors x_m as bars (with an appended 1 if ``one``); their right ends."""
    ends = []
    for m, (length, y) in enumerate(zip(BARS, ROWS, strict=True), 1):
        svg.text(16, y + 5, f"$x_{m}$", SMALL)
        svg.rect(30, y - 6, length, 12, "input", rx=2, width=1.2)
        end = 30 + length
        if one:
            svg.rect(end, y - 6, 10, 12, "fixed", rx=1, width=1.2)
            end += 10
        ends.append(end)
    return ends


def panel_output(svg: Svg, x: float, label: str = "$h$", length: float = 28) -> None:
    svg.rect(x, ROWS[1] - 6, length, 12, "output", rx=2, width=1.2)
    svg.text(x + length / 2, ROWS[1] - 14, label, SMALL)


def tall(svg: Svg, x: float, w: float, label: str, kind: str) -> None:
    """A box spanning the three rows, centred on x."""
    svg.box(x, ROWS[1], w, ROWS[2] - ROWS[0] + 26, label, kind, SMALL)


def fusion_methods() -> Svg:
    """The seven fusion methods of chapter 8, one small panel each, two columns."""
    pw, ph = 272, 236
    svg = Svg(560, 4 * (ph + 8) + 4, "Seven ways to fuse three feature vectors")
    panels: list[tuple[str, list[str], Callable[[Svg], None]]] = []

    def concatenation(svg: Svg) -> None:
        ends = panel_inputs(svg)
        x, y = 112, ROWS[1] - sum(BARS) / 2
        for m, length in enumerate(BARS):
            svg.arrow(ends[m], ROWS[m], x - 14, y + length / 2)
            svg.rect(x - 6, y, 12, length, "input", rx=1, width=1.2)
            y += length
        svg.arrow(x + 6, ROWS[1], 150, ROWS[1])
        svg.box(168, ROWS[1], 36, 30, "$W$", "learned", SMALL)
        svg.arrow(186, ROWS[1], 212, ROWS[1])
        panel_output(svg, 216)

    def weighted(svg: Svg) -> None:
        ends = panel_inputs(svg)
        for m, y in enumerate(ROWS, 1):
            svg.arrow(ends[m - 1], y, 92, y)
            svg.box(112, y, 38, 26, f"$P_{m}$", "learned", SMALL)
            svg.arrow(131, y, 170, y)
            svg.text(150, y - 6, f"$w_{m}$", SMALL)
        tall(svg, 186, 32, "Σ", "fixed")
        svg.arrow(202, ROWS[1], 226, ROWS[1])
        panel_output(svg, 230)

    def tensor(svg: Svg) -> None:
        ends = panel_inputs(svg, one=True)
        for m, y in enumerate(ROWS):
            svg.arrow(ends[m], y, 96, ROWS[1] + (y - ROWS[1]) * 0.25)
        svg.ctext(107, ROWS[1], "⊗", 24)
        svg.arrow(119, ROWS[1], 134, ROWS[1])
        # a cube: Z, the (d_1+1) × (d_2+1) × (d_3+1) tensor
        x, y, s, d = 138, ROWS[1] - 14, 30, 12
        edge, face, _ = KINDS["fixed"]
        svg.raw(
            f'<path d="M{x},{y} h{s} v{s} h{-s} z M{x},{y} l{d},{-d} h{s} l{-d},{d} '
            f'M{x + s},{y} l{d},{-d} v{s} l{-d},{d}" fill="{face}" stroke="{edge}" '
            f'stroke-width="1.4" stroke-linejoin="round"/>'
        )
        svg.text(x + s / 2, y + s + 20, "$Z$", SMALL)
        svg.arrow(x + s + d + 4, ROWS[1], 222, ROWS[1])
        svg.text(201, ROWS[1] - 7, "$W$", SMALL)
        panel_output(svg, 226)

    def low_rank(svg: Svg) -> None:
        ends = panel_inputs(svg, one=True)
        for m, y in enumerate(ROWS, 1):
            svg.arrow(ends[m - 1], y, 84, y)
            svg.box(106, y, 44, 28, f"$w_{m}^{{(i)}}$", "learned", SMALL)
            svg.arrow(128, y, 152, y)
        tall(svg, 166, 28, "∏", "fixed")
        svg.arrow(180, ROWS[1], 224, ROWS[1])
        svg.text(202, ROWS[1] - 8, "$Σ_i λ_i$", SMALL)
        panel_output(svg, 228)

    def gated(svg: Svg) -> None:
        ends = panel_inputs(svg)
        for m, y in enumerate(ROWS, 1):
            svg.arrow(ends[m - 1], y, 80, y)
            svg.box(111, y, 62, 26, f"tanh $W_{m}$", "learned", SMALL)
            svg.arrow(142, y, 158, y)
            svg.op(168, y, "times", 10)
            svg.text(168, y - 14, f"$z_{m}$", SMALL)
            svg.arrow(178, y, 192, y)
        tall(svg, 205, 26, "Σ", "fixed")
        svg.arrow(218, ROWS[1], 232, ROWS[1])
        panel_output(svg, 236, length=24)

    def attention(svg: Svg) -> None:
        ends = panel_inputs(svg)
        for m, y in enumerate(ROWS, 1):
            svg.arrow(ends[m - 1], y, 82, y)
            svg.box(100, y, 36, 26, f"$P_{m}$", "learned", SMALL)
            svg.arrow(118, y, 146, y)
            svg.text(132, y - 6, f"$t_{m}$", SMALL)
        tall(svg, 168, 44, "MHA", "learned")
        svg.arrow(190, ROWS[1], 232, ROWS[1])
        svg.text(211, ROWS[1] - 8, "mean", SMALL)
        panel_output(svg, 236, length=24)

    def late(svg: Svg) -> None:
        ends = panel_inputs(svg)
        for m, y in enumerate(ROWS, 1):
            svg.arrow(ends[m - 1], y, 84, y)
            svg.box(104, y, 40, 26, f"$W_{m}$", "learned", SMALL)
            svg.arrow(124, y, 172, y)
            svg.text(148, y - 9, f"log $p_{m}$", SMALL)
        tall(svg, 196, 48, "mean", "fixed")
        svg.arrow(220, ROWS[1], 232, ROWS[1])
        panel_output(svg, 234, "$s(y)$", 26)

    panels = [
        ("Concatenation", ["$h = W [x_1; x_2; x_3] + b$"], concatenation),
        ("Weighted sum", ["$h = Σ_m w_m (P_m x_m + b_m)$", "$w = softmax(a)$"], weighted),
        ("Tensor fusion", ["$h = W vec(Z) + b$", "$Z = [x_1; 1] ⊗ [x_2; 1] ⊗ [x_3; 1]$"], tensor),
        (
            "Low-rank fusion",
            ["$h = Σ_i λ_i ∏_m ([x_m; 1] w_m^{(i)}) + b$", "rank $r$; $Z$ is never formed"],
            low_rank,
        ),
        (
            "Gated fusion",
            ["$h = Σ_m z_m ⊙ tanh(W_m x_m)$", "$z = softmax_m(G [x_1; x_2; x_3])$"],
            gated,
        ),
        (
            "Attention fusion",
            ["$t_m = P_m x_m + e_m$", "attention over $t_1, t_2, t_3$, mean, linear"],
            attention,
        ),
        (
            "Late fusion",
            ["$s(y) = (1/M) Σ_m log p_m(y | x_m)$", "one classifier $W_m$ per modality"],
            late,
        ),
    ]
    for k, (title, formulas, draw) in enumerate(panels):
        x, y = 4 + (k % 2) * (pw + 8), 4 + (k // 2) * (ph + 8)
        svg.rect(x, y, pw, ph, "plain", rx=10, width=1.2, fill="#FAFAFA", stroke="#BBBBBB")
        svg.raw(f'<g transform="translate({x:g},{y:g})">')
        svg.text(12, 26, title, FONT, anchor="start", bold=True)
        draw(svg)
        for j, formula in enumerate(formulas):
            svg.text(pw / 2, 186 + j * 27, formula, SMALL)
        svg.raw("</g>")
    # the key, in the eighth cell
    x, y = 4 + pw + 8, 4 + 3 * (ph + 8)
    svg.raw(f'<g transform="translate({x:g},{y:g})">')
    svg.text(12, 26, "Key", FONT, anchor="start", bold=True)
    keys = [
        ("input", "feature $x_m$, $(N, d_m)$"),
        ("fixed", "a constant 1 or no weights"),
        ("learned", "learned weights"),
        ("output", "fused $h$, $(N, d_{out})$"),
    ]
    for j, (kind, label) in enumerate(keys):
        yy = 58 + j * 34
        svg.rect(14, yy - 8, 30, 16, kind, rx=3, width=1.2)
        svg.text(54, yy + 5, label, SMALL, anchor="start")
    svg.text(12, 196, "$M$ = 3 modalities:", SMALL, anchor="start")
    svg.text(12, 218, "image, text, audio", SMALL, anchor="start")
    svg.raw("</g>")
    return svg


# ---------------------------------------------------------------------------------------------
# Chapter 9


def transformer_block() -> Svg:
    """The pre-norm Transformer encoder layer, read from bottom to top."""
    svg = Svg(440, 720, "The pre-LayerNorm Transformer encoder layer")
    x, w, left = 236, 196, 76
    y_out, add2, w2, gelu, w1, ln2, fork2 = 34, 96, 150, 200, 250, 302, 346
    add1, mha, ln1, fork1, y_in = 390, 460, 534, 580, 626
    svg.box(x, y_in, 120, 34, "$X$", "input", 17)
    svg.text(x + 70, y_in + 6, "$L$ tokens × $d$", SMALL, anchor="start")
    svg.arrow(x, y_in - 17, x, ln1 + 16)
    svg.box(x, ln1, w, 32, "$LN_1$", "learned", SMALL)
    svg.path([(x, ln1 - 16), (x, ln1 - 32)], arrow=False)
    for dx in (-50, 0, 50):  # queries, keys and values all come from LN_1(X)
        svg.path([(x, ln1 - 32), (x + dx, ln1 - 32), (x + dx, mha + 28)])
    svg.dot(x, ln1 - 32)
    svg.box(x, mha, w, 56, "multi-head attention\n$MHA$", "learned", SMALL)
    svg.arrow(x, mha - 28, x, add1 + 12)
    svg.op(x, add1, "plus")
    svg.arrow(x, add1 - 12, x, ln2 + 16)
    svg.box(x, ln2, w, 32, "$LN_2$", "learned", SMALL)
    svg.arrow(x, ln2 - 16, x, w1 + 16)
    svg.box(x, w1, w, 32, "Linear $W_1$, $b_1$", "learned", SMALL)
    svg.arrow(x, w1 - 16, x, gelu + 14)
    svg.pill(x, gelu, "GELU", 70, 28)
    svg.arrow(x, gelu - 14, x, w2 + 16)
    svg.box(x, w2, w, 32, "Linear $W_2$, $b_2$", "learned", SMALL)
    svg.arrow(x, w2 - 16, x, add2 + 12)
    svg.op(x, add2, "plus")
    svg.arrow(x, add2 - 12, x, y_out + 17)
    svg.box(x, y_out, 120, 34, "$Y$", "output", 17)
    svg.text(x + 70, y_out + 6, "$L$ tokens × $d$", SMALL, anchor="start")
    # the residual connections
    for fork, add in ((fork1, add1), (fork2, add2)):
        svg.dot(x, fork)
        svg.path([(x, fork), (left, fork), (left, add), (x - 12, add)], width=2.2)
        svg.text(left - 10, (fork + add) / 2, "residual", SMALL, color=MUTED, rotate=-90)
    svg.text(x + 14, fork2 + 20, "$X′$", 17, anchor="start")
    # brackets: the attention sublayer and the MLP
    bx = x + w / 2 + 12
    y1, y2 = w1 + 16, w2 - 16
    svg.path([(bx - 6, y1), (bx, y1), (bx, y2), (bx - 6, y2)], color=MUTED, arrow=False)
    svg.ctext(bx + 8, (y1 + y2) / 2, "MLP,\nper token", SMALL, anchor="start", color=MUTED)
    svg.text(220, 674, "$X′ = X + MHA(LN_1(X))$", 16)
    svg.text(220, 704, "$Y = X′ + W_2 GELU(W_1 LN_2(X′) + b_1) + b_2$", 16)
    return svg


SEVEN = [  # an 8×8 handwritten-looking 7, intensities 0..9
    "00000000",
    "08999960",
    "00000940",
    "00007800",
    "00039200",
    "00086000",
    "00391000",
    "00670000",
]


def token_sequence() -> Svg:
    """Chapter 9's one sequence: [c; X_1 + P_1 + e_1; X_2 + P_2 + e_2; X_3 + P_3 + e_3]."""
    svg = Svg(540, 598, "One sequence of tokens for image, text and audio")
    col, sq = 32, 28
    c_x = 72
    segments = [  # (name, count line, first column centre, number of tokens, embedding)
        ("image", "4 patches", 114, 4, "patch emb."),
        ("text", "3 words", 252, 3, "word emb."),
        ("audio", "6 frame tokens", 358, 6, "frame embedding"),
    ]
    y_piece, y_emb, y_x, y_p, y_e, y_z = 92, 150, 196, 234, 272, 334

    def square(cx: float, cy: float, kind: str, label: str = "", size: float = SMALL) -> None:
        svg.box(cx, cy, sq, sq, label, kind, size, rx=4, width=1.4)

    def pixels(x0, y0, rgb):
        """A grid of 7-unit squares with the given colours, top-left at (x0, y0)."""
        for r, row in enumerate(rgb):
            for c, (red, green, blue) in enumerate(row):
                svg.rect(
                    x0 + 7 * c,
                    y0 + 7 * r,
                    7,
                    7,
                    "plain",
                    rx=0,
                    width=0,
                    fill=f"rgb({red},{green},{blue})",
                    stroke="none",
                )

    for row_y, label in ((y_x, "$X_m$"), (y_p, "$+P_m$"), (y_e, "$+e_m$"), (y_z, "$Z$")):
        svg.text(26, row_y + 5, label, 16)
    for m, (name, count, first, n, emb) in enumerate(segments, 1):
        centres = [first + col * k for k in range(n)]
        mid = (centres[0] + centres[-1]) / 2
        span = centres[-1] - centres[0] + sq
        svg.text(mid, 20, name, FONT, bold=True)
        svg.text(mid, 40, count, SMALL, color=MUTED)

        for k, cx in enumerate(centres):
            if name == "image":  # the four 4×4 patches, in reading order
                r0, c0 = 4 * (k // 2), 4 * (k % 2)
                grey = [
                    [round(255 - 22 * int(SEVEN[r0 + r][c0 + c])) for c in range(4)]
                    for r in range(4)
                ]
                pixels(cx - 14, y_piece - 14, [[(v, v, v) for v in row] for row in grey])
                svg.rect(cx - 14, y_piece - 14, 28, 28, "input", rx=0, width=1.2, fill="none")
            elif name == "text":
                word = ("the", "number", "seven")[k]
                svg.text(cx + 5, y_piece, word, SMALL, rotate=-90)
            else:  # two frames of the log-mel spectrogram, two bright tone bands
                shades = [
                    [70 if r in (2, 5) else 225 - 8 * ((r + c + k) % 3) for c in range(2)]
                    for r in range(8)
                ]
                pixels(cx - 7, y_piece - 28, [[(v, v, v + 25) for v in row] for row in shades])
                svg.rect(cx - 7, y_piece - 28, 14, 56, "input", rx=0, width=1.2, fill="none")
            svg.arrow(cx, y_piece + 30, cx, y_emb - 13)
            svg.arrow(cx, y_emb + 13, cx, y_x - sq / 2)
            square(cx, y_x, "input")
            square(cx, y_p, "learned", str(k), 14)
            square(cx, y_e, "learned", f"$e_{m}$", 14)
            svg.arrow(cx, y_e + sq / 2, cx, y_z - sq / 2)
            square(cx, y_z, "output")
        svg.box(mid, y_emb, span, 26, emb, "learned", SMALL)
        svg.path(
            [
                (mid - span / 2, y_z + 20),
                (mid - span / 2, y_z + 26),
                (mid + span / 2, y_z + 26),
                (mid + span / 2, y_z + 20),
            ],
            color=MUTED,
            arrow=False,
        )
        svg.text(mid, y_z + 46, f"$X_{m}+P_{m}+e_{m}$", SMALL)
    square(c_x, y_z, "learned", "$c$", 16)
    svg.text(c_x, y_z - 44, "class", SMALL, color=MUTED)
    svg.text(c_x, y_z - 26, "token", SMALL, color=MUTED)
    # the Transformer reads Z; the head reads the classification token's final state
    y_enc = 420
    for xx in (c_x, 200, 330, 460):
        svg.arrow(xx, y_z + 52 if xx != c_x else y_z + sq / 2, xx, y_enc - 17)
    svg.box(294, y_enc, 476, 34, "Transformer encoder", "learned", 16)
    svg.arrow(c_x, y_enc + 17, c_x, 488 - 15)
    svg.text(c_x + 10, 458, "final state of $c$", SMALL, anchor="start")
    svg.box(c_x, 488, 64, 30, "head", "learned", SMALL)
    svg.arrow(c_x + 32, 488, 150, 488)
    svg.box(198, 488, 96, 30, "scores", "output", SMALL)
    svg.text(270, 546, "$Z = [c; X_1 + P_1 + e_1; X_2 + P_2 + e_2; X_3 + P_3 + e_3]$", 16)
    svg.text(270, 578, "$∈ ℝ^{L × d}$, with $L = 1 + T_1 + T_2 + T_3$", 16)
    return svg


FIGURES: dict[str, Callable[[], Svg]] = {
    "conv_window": conv_window,
    "conv_channels": conv_channels,
    "cnn_pipeline": cnn_pipeline,
    "rnn_unrolled": rnn_unrolled,
    "lstm_cell": lstm_cell,
    "gru_cell": gru_cell,
    "fusion_stages": fusion_stages,
    "fusion_methods": fusion_methods,
    "transformer_block": transformer_block,
    "token_sequence": token_sequence,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that the files are up to date"
    )
    args = parser.parse_args(argv)
    stale = []
    if not args.check:
        OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        path = OUT / f"{name}.svg"
        content = draw().render()
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.write_text(content, encoding="utf-8")
    if args.check and stale:
        print("out of date (run python tools/figures.py):", *stale, sep="\n  ")
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
