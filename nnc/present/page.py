"""`nnc view`: a network as one self-contained HTML page, to open in a browser and share.

The page holds the paper-style table, every layer in a table that expands from rows to
block calls to primitive layers, the diagram of `nnc draw` (zoomable; a click on a node
shows its layers' figures and source positions), the memory figures and the path-length
histogram as small charts, and the highlighted source, each line linked to the layers it
made. A file that does not check still gives a page: its errors and lints in place, under
the lines they name. Two files give the two pages side by side under `nnc diff`'s table.

Everything is inline: the styles, the script (page.css and page.js beside this module)
and the data, so the page needs no network and no other file.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from html import escape
from importlib.resources import files
from xml.sax.saxutils import quoteattr

from nnc.analysis.compiled import Compiled, check_expectations, compile_text
from nnc.analysis.lint import lint
from nnc.analysis.memory import memory
from nnc.analysis.paths import count_paths
from nnc.analysis.receptive import receptive_fields
from nnc.errors import ArchIOError, NncError
from nnc.lang.expand import Limits
from nnc.lang.parse import MAX_FILE_BYTES, read_source
from nnc.present.charts import memory_chart, paths_chart
from nnc.present.draw import drawing
from nnc.present.layer_table import layer_figures, lines_made, table_html
from nnc.present.listing import (
    highlight_css,
    listing_html,
    placed_at,
    quoted_sources,
    use_line,
)
from nnc.present.notebook import NO_DIAGRAM, totals_html
from nnc.present.tables import render
from nnc.wording import dims


@dataclass
class Panel:
    """One file as the page shows it: checked (`compiled`), or not (`compiled` None and
    the error in `problems`); the lints and failed expect lines are in `problems` too."""
    path: str
    source: str
    compiled: Compiled | None
    problems: list[NncError] = field(default_factory=list)

    @property
    def errors(self) -> list[NncError]:
        return [p for p in self.problems if p.severity == "error"]


def panel_for(path: str, limits: Limits = Limits(), strict: bool = False) -> Panel:
    """Read and compile the file, keeping whatever went wrong for the page instead of
    raising: a file that cannot be read or decoded shows what of it can be."""
    try:
        source = read_source(path)
        compiled = compile_text(source, path, limits)
    except NncError as error:
        return Panel(path, readable_text(path), None, [error])
    problems = lint(compiled.network) + check_expectations(compiled)
    for problem in problems:
        if strict:
            problem.severity = "error"
    problems.sort(key=lambda p: (p.coord.line, p.coord.column) if p.coord else (0, 0))
    return Panel(path, source, compiled, problems)


def readable_text(path: str) -> str:
    """The file's text with undecodable bytes replaced, or nothing if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def page_html(panels: list[Panel], diff_html: str = "", version: str | None = None) -> str:
    """The whole page: one panel, or two side by side under the diff's table. A page
    served live carries the `version` of the files it shows, and reloads when the server
    says they have changed."""
    title = " → ".join(p.compiled.network.name if p.compiled else p.path for p in panels)
    body = "".join(panel_html(f"p{i}", p) for i, p in enumerate(panels))
    layout = "nnc-pair" if len(panels) > 1 else "nnc-single"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{escape(title)}</title>"
            "<link rel='icon' href='data:,'>"   # no favicon to ask a server for
            f"<style>{asset('page.css')}\n{highlight_css()}</style></head>"
            f"<body{f' data-version={quoteattr(version)}' if version else ''}>{diff_html}"
            f"<div class='{layout}'>{body}</div>"
            f"<script>{asset('page.js')}</script></body></html>")


def asset(name: str) -> str:
    return files("nnc.present").joinpath(name).read_text(encoding="utf-8")


def panel_html(key: str, panel: Panel) -> str:
    """A file's section of the page; its figures for the script in a JSON block."""
    data = {"file": panel.path, "layers": [], "nodes": {}, "lines": {}}
    if panel.compiled is None:
        sections = [broken_header(key, panel), source_section(key, panel)]
    else:
        compiled = panel.compiled
        net = compiled.network
        fields = receptive_fields(net)
        svg, members = diagram_svg(compiled, key)
        index = {name: i for i, name in enumerate(net.layers)}
        data.update(layers=layer_figures(net, fields, compiled.stats.depth),
                    nodes={node: [index[n] for n in layers] for node, layers in members.items()},
                    lines=lines_made(net, use_line(panel.source)))
        sections = [header(panel), problem_links(key, panel),
                    section("The paper's table", render(compiled.stats, "html"), "nnc-table"),
                    section("Layers: rows, block calls, layers", table_html(compiled, fields),
                            "nnc-table"),
                    section("Diagram", diagram_section(svg), "nnc-diagram-section"),
                    section("Memory and paths", charts(compiled), "nnc-charts"),
                    source_section(key, panel)]
    # in a <script> block, "<!--", "<script" and "</script" must not appear: JSON may
    # write < > & as escapes, and the parsed data is the same
    script = (json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
              .replace(">", "\\u003e").replace("&", "\\u0026"))
    return (f"<section class='nnc-panel' id='{key}' data-panel='{key}'>{''.join(sections)}"
            f"<aside class='nnc-details' hidden></aside>"
            f"<script type='application/json' class='nnc-data'>{script}</script></section>")


def section(title: str, body: str, cls: str) -> str:
    return f"<div class='{cls}'><h2>{escape(title)}</h2>{body}</div>"


def header(panel: Panel) -> str:
    net = panel.compiled.network
    return (f"<header><h1>network {escape(net.name)}</h1><p class='nnc-file'>"
            f"{escape(panel.path)} · input {escape(dims(net.shape(net.input)))}, output "
            f"{escape(dims(net.shape(net.output)))}</p>{totals_html(panel.compiled)}</header>")


def broken_header(key: str, panel: Panel) -> str:
    """A file that does not check: what is wrong, each error linked to its line (or, in a
    file it uses, quoted with that file's line)."""
    count = len(panel.errors)
    return (f"<header><h1>{escape(panel.path)}</h1><p class='nnc-broken'>does not check: "
            f"{count} error{'s' if count != 1 else ''}</p>{problem_links(key, panel)}</header>")


def problem_links(key: str, panel: Panel) -> str:
    """Each error and lint in one line, linked to the line it names."""
    if not panel.problems:
        return ""
    items = []
    for p in panel.problems:
        place = placed_at(p, panel.path, panel.source)
        text = escape(p.format() if p.coord is None or p.coord.file == panel.path
                      else p.format(quoted_sources(p)))
        if place is None:
            items.append(f"<li class='nnc-{escape(p.severity)}'><pre>{text}</pre></li>")
        else:
            items.append(f"<li class='nnc-{escape(p.severity)}'><a href='#{key}-L{place[0]}' "
                         f"data-line='{place[0]}'><pre>{text}</pre></a></li>")
    return f"<ul class='nnc-problems'>{''.join(items)}</ul>"


def source_section(key: str, panel: Panel) -> str:
    return section("Source", listing_html(key, panel.source, panel.problems, panel.path),
                   "nnc-source")


def charts(compiled: Compiled) -> str:
    net = compiled.network
    return memory_chart(memory(net)) + paths_chart(count_paths(net))


def diagram_svg(compiled: Compiled, key: str) -> tuple[str | None, dict]:
    """The collapsed diagram as inline <svg> (without dot's XML declaration and fixed
    size: the page sizes and zooms it; its element ids prefixed with the panel's, as two
    panels share a page), and the layers of each of its nodes; (None, {}) without
    Graphviz."""
    if shutil.which("dot") is None:
        return None, {}
    try:
        dot, members = drawing(compiled)
    except ArchIOError:   # the graphviz Python package is not installed
        return None, {}
    svg = dot.pipe(format="svg").decode()
    svg = svg[svg.index("<svg"):]
    head, rest = svg.split(">", 1)
    head = " ".join(part for part in head.split(" ")
                    if not part.startswith(("width=", "height=")))
    rest = rest.replace(' id="', f' id="{key}-')   # graph0, node1, edge1, clust1
    return f"{head}>{rest}", members


def diagram_section(svg: str | None) -> str:
    if svg is None:
        return f"<p class='nnc-no-diagram'><i>{escape(NO_DIAGRAM)}</i></p>"
    return ("<div class='nnc-zoom'><button data-zoom='in'>+</button>"
            "<button data-zoom='out'>−</button><button data-zoom='fit'>fit</button>"
            "<span>Ctrl+wheel or pinch to zoom, drag to move, click a node for its layers"
            "</span></div>"
            f"<div class='nnc-diagram'>{svg}</div>")
