"""The small charts of `nnc view`'s page, as inline SVG (no script, nothing to fetch):
the memory figures of `nnc stats` as bars, and the distribution of path lengths through
the residual units as a histogram, the same figures the text report draws in characters.
"""
from __future__ import annotations

from html import escape

from nnc.analysis.memory import Memory
from nnc.analysis.paths import Paths
from nnc.present.report import SHOWN_SHARE, path_summary
from nnc.wording import human_bytes

BAR_COLOUR = "#4a7ab5"
LABEL_WIDTH = 230   # the memory chart's labels, left of the bars
BAR_SPACE = 260     # the longest bar
LINE_HEIGHT = 22
COLUMN_WIDTH = 14   # one length's column in the histogram
PLOT_HEIGHT = 110


def memory_chart(m: Memory) -> str:
    """One bar per figure of one batch, scaled to the largest: weights, every activation,
    the peak live at inference, what training keeps for backward."""
    figures = [("weights", m.weights),
               ("activations (every layer output)", m.activations * m.batch),
               ("peak live at inference", m.peak_live * m.batch),
               ("kept for backward in training", m.training_kept * m.batch)]
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
    """A column per path length (residual bodies passed through) holding at least
    SHOWN_SHARE of the paths, its height the share; or, without residual units, the one
    line of the text report."""
    summary = path_summary(p)
    if not p.units:
        return f"<p class='nnc-chart nnc-paths'>{escape(summary[0])}</p>"
    shown = [k for k in p.lengths if p.fraction(k) >= SHOWN_SHARE]
    top = max(p.fraction(k) for k in shown)
    parts = []
    for i, k in enumerate(shown):
        share = p.fraction(k)
        height = max(1, round(PLOT_HEIGHT * share / top))
        x = i * COLUMN_WIDTH
        parts.append(f"<rect x='{x}' y='{PLOT_HEIGHT - height}' width='{COLUMN_WIDTH - 2}' "
                     f"height='{height}' fill='{BAR_COLOUR}'>"
                     f"<title>length {k}: {share:.2%} of paths</title></rect>")
        if i % max(1, len(shown) // 8) == 0:
            parts.append(f"<text x='{x}' y='{PLOT_HEIGHT + 14}'>{k}</text>")
    width = max(len(shown) * COLUMN_WIDTH, 200)
    caption = "; ".join(summary)
    return chart(caption, width, PLOT_HEIGHT + 20, "".join(parts), "paths")


def chart(caption: str, width: int, height: int, body: str, name: str) -> str:
    return (f"<figure class='nnc-chart nnc-{name}'><svg xmlns='http://www.w3.org/2000/svg' "
            f"width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
            f"font-size='12' font-family='sans-serif'>{body}</svg>"
            f"<figcaption>{escape(caption)}</figcaption></figure>")
