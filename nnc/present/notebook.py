"""A checked network as HTML, for a notebook's rich display (`Net._repr_html_`): its name
and shapes, its totals, the per-row table of `nnc stats` (the same cells as the text) and
the diagram of `nnc draw` as inline SVG.

The HTML is one self-contained fragment: inline styles only, no CSS or script to fetch,
every piece of text escaped. The diagram needs Graphviz (its `dot` program and the
graphviz Python package); without it the fragment says so in place of the diagram.
"""
from __future__ import annotations

import shutil
from html import escape

from nnc.analysis.compiled import Compiled
from nnc.analysis.receptive import receptive_fields
from nnc.analysis.stats import Totals
from nnc.errors import ArchIOError
from nnc.present.draw import diagram
from nnc.present.report import ROW_HEADERS, ROW_NUMERIC, row_cells
from nnc.wording import dims, human

CELL = "padding:1px 8px;border-bottom:1px solid #ddd"
NO_DIAGRAM = ("The diagram needs Graphviz: its dot program (Debian/Ubuntu: apt-get install "
              "graphviz) and the graphviz Python package (pip install 'nnc[draw]').")


def net_html(compiled: Compiled) -> str:
    net = compiled.network
    parts = [f"<h3 style='margin:0.3em 0'>network {escape(net.name)}</h3>",
             f"<p>input {escape(dims(net.shape(net.input)))}, "
             f"output {escape(dims(net.shape(net.output)))}</p>",
             totals_html(compiled), rows_html(compiled), diagram_html(compiled)]
    return f"<div class='nnc-net'>{''.join(parts)}</div>"


def totals_html(compiled: Compiled) -> str:
    """Params (trainable, non-trainable) and MACs of the whole network, and of the
    network without its side heads where it has some."""
    stats = compiled.stats
    groups = [("", stats.totals)]
    if stats.network.heads:
        groups.append(("without heads: ", stats.main))
    rows = [row for label, totals in groups for row in totals_rows(label, totals)]
    rows.append(("weight layers (depth)", f"{stats.weight_layers:,}"))
    body = "".join(f"<tr><th style='{CELL};text-align:left'>{escape(name)}</th>"
                   f"<td style='{CELL};text-align:right'>{escape(value)}</td></tr>"
                   for name, value in rows)
    return f"<table class='nnc-totals' style='border-collapse:collapse'>{body}</table>"


def totals_rows(label: str, t: Totals) -> list[tuple[str, str]]:
    return [(f"{label}params", f"{t.params:,}"),
            (f"{label}trainable", f"{t.trainable:,}"),
            (f"{label}non-trainable", f"{t.non_trainable:,}"),
            (f"{label}MACs", f"{t.macs:,} ({human(t.macs)})")]


def rows_html(compiled: Compiled) -> str:
    """The table `nnc stats` prints, from the same cells."""
    fields = receptive_fields(compiled.network)
    cells = row_cells(compiled.stats, fields)

    def row(tag: str, values: list[str]) -> str:
        return "<tr>" + "".join(
            f"<{tag} style='{CELL};text-align:{'right' if i in ROW_NUMERIC else 'left'}'>"
            f"{escape(value)}</{tag}>" for i, value in enumerate(values)) + "</tr>"
    return (f"<table class='nnc-rows' style='border-collapse:collapse;margin-top:0.8em'>"
            f"<thead>{row('th', ROW_HEADERS)}</thead>"
            f"<tbody>{''.join(row('td', values) for values in cells)}</tbody></table>")


def diagram_html(compiled: Compiled) -> str:
    svg = diagram_svg(compiled)
    if svg is None:
        return f"<p class='nnc-no-diagram'><i>{escape(NO_DIAGRAM)}</i></p>"
    return f"<div class='nnc-diagram' style='overflow:auto;margin-top:0.8em'>{svg}</div>"


def diagram_svg(compiled: Compiled) -> str | None:
    """The collapsed diagram as an <svg> element to put inline (without the XML
    declaration and doctype that start dot's file), or None without Graphviz."""
    if shutil.which("dot") is None:
        return None
    try:
        svg = diagram(compiled).pipe(format="svg").decode()
    except ArchIOError:  # the graphviz Python package is not installed
        return None
    return svg[svg.index("<svg"):]
