"""The small charts of `nnc view`'s page, as inline SVG (no script, nothing to fetch):
the memory figures of `nnc stats` as bars, and the distribution of path lengths through
the residual units as a histogram, the same figures the text report draws in characters.
"""
from __future__ import annotations

from html import escape

from nnc.analysis.memory import Memory
from nnc.analysis.paths import Paths
from nnc.present.report import path_rows, path_summary
from nnc.wording import human_bytes

BAR_COLOUR = "#4a7ab5"
LABEL_WIDTH = 230   # the memory chart's labels, left of the bars
BAR_SPACE = 260     # the longest bar
LINE_HEIGHT = 22
COLUMN_WIDTH = 16   # one length's column in the histogram
PLOT_HEIGHT = 110
AXIS = 44           # the histogram's axis, right of the tallest share's label
TOP = 6


def memory_chart(m: Memory) -> str:
    """One bar per figure of one batch, scaled to the largest: weights, every activation,
    the peak live at inference, what training keeps for backward and the backward
    pass's peak."""
    figures = [("weights", m.weights),
               ("activations (every layer output)", m.activations * m.batch),
               ("peak live at inference", m.peak_live * m.batch),
               ("kept for backward in training", m.training_kept * m.batch),
               ("peak of the backward pass", m.backward_peak * m.batch)]
    top = max(value for _, value in figures) or 1
    parts = []
    for i, (label, value) in enumerate(figures):
        y = i * LINE_HEIGHT
        width = max(1, round(BAR_SPACE * value / top))
        parts.append(
            f"<text x='0' y='{y + 15}'>{escape(label)}</text>"
            f"<rect x='{LABEL_WIDTH}' y='{y + 4}' width='{width}' height='14' "
            f"fill='{BAR_COLOUR}'><title>{escape(label)}: {value:,} bytes</title></rect>"
            f"<text x='{LABEL_WIDTH + width + 6}' y='{y + 15}'>{human_bytes(value)}</text>")
    height = len(figures) * LINE_HEIGHT
    caption = (f"memory, {m.dtype}" + (f", batch {m.batch}" if m.batch > 1 else ", one image"))
    return chart(caption, LABEL_WIDTH + BAR_SPACE + 90, height, "".join(parts), "memory")


def paths_chart(p: Paths) -> str:
    """A column per path length (residual bodies passed through), its height the share
    of paths, with the rare lengths at either end summed as the text report sums them;
    or, without residual units, the one line of the text report."""
    summary = path_summary(p)
    if not p.units:
        return f"<p class='nnc-chart nnc-paths'>{escape(summary[0])}</p>"
    rows = path_rows(p)
    top = max(share for _, share in rows)
    parts = [f"<text x='0' y='10'>{top:.1%}</text>",
             f"<line x1='{AXIS}' y1='{TOP}' x2='{AXIS}' y2='{TOP + PLOT_HEIGHT}' stroke='#999'/>"]
    for i, (label, share) in enumerate(rows):
        height = max(1, round(PLOT_HEIGHT * share / top))
        x = AXIS + 4 + i * COLUMN_WIDTH
        parts.append(f"<rect x='{x}' y='{TOP + PLOT_HEIGHT - height}' "
                     f"width='{COLUMN_WIDTH - 2}' height='{height}' fill='{BAR_COLOUR}'>"
                     f"<title>length {label}: {share:.2%} of paths</title></rect>")
        if i % max(1, len(rows) // 10) == 0 or not label[0].isdigit():
            parts.append(f"<text x='{x}' y='{TOP + PLOT_HEIGHT + 14}'>{escape(label)}</text>")
    width = max(AXIS + 4 + len(rows) * COLUMN_WIDTH + 20, 240)
    caption = "; ".join(summary) + " (column heights: share of paths, the tallest labelled)"
    return chart(caption, width, TOP + PLOT_HEIGHT + 20, "".join(parts), "paths")


def chart(caption: str, width: int, height: int, body: str, name: str) -> str:
    return (f"<figure class='nnc-chart nnc-{name}'><svg xmlns='http://www.w3.org/2000/svg' "
            f"width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
            f"font-size='12' font-family='sans-serif'>{body}</svg>"
            f"<figcaption>{escape(caption)}</figcaption></figure>")
