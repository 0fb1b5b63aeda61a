"""The per-row table of `nnc stats --format markdown|latex|csv|html`, in a paper's own
layout, ready to paste into a paper, a README or a web page (`nnc view` shows the html).

Layouts:
  resnet     ResNet's Table 1: each row's layers as the paper writes them, a block call
             as its layers in brackets, and repeated calls as `[...] ×n`:
             `[1×1, 64; 3×3, 64; 1×1, 256] ×3`.
  googlenet  GoogLeNet's Table 1: patch size/stride, output size, depth and the six
             columns of an inception module (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5,
             pool proj), filled wherever a row has that shape.
  plain      the columns of `nnc stats`' text table.
`auto` picks googlenet when some row is an inception module, else resnet.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from html import escape

from nnc.analysis.receptive import receptive_fields
from nnc.analysis.stats import Stats
from nnc.ir.network import Layer
from nnc.wording import dims, human

LAYOUTS = ("auto", "resnet", "googlenet", "plain")
FORMATS = ("markdown", "latex", "csv", "html")
INCEPTION_COLUMNS = ("#1×1", "#3×3 reduce", "#3×3", "#5×5 reduce", "#5×5", "pool proj")


@dataclass(frozen=True)
class Bracket:
    """Layers repeated as a group: `[1×1, 64; 3×3, 64] ×3`."""
    layers: tuple[str, ...]
    times: int

    def text(self) -> str:
        return f"[{'; '.join(self.layers)}] ×{self.times}"


@dataclass(frozen=True)
class Table:
    headers: list[str]
    kinds: list[str]    # per column: "text", "count" (1,234) or "ops" (1.23G)
    rows: list[list]    # text cells are a str or a list of lines (str or Bracket)


def render(stats: Stats, fmt: str, layout: str = "auto") -> str:
    if layout == "auto":
        layout = "googlenet" if any(inception_columns(stats, row)
                                    for row in stats.network.rows) else "resnet"
    table = {"resnet": resnet_table, "googlenet": googlenet_table,
             "plain": plain_table}[layout](stats)
    return {"markdown": markdown, "latex": latex, "csv": to_csv, "html": html}[fmt](table)


# --- layouts ----------------------------------------------------------------------------

def row_label(row) -> str:
    return row.name + (" (head)" if row.head else "")


def totals_rows(stats: Stats, width: int, params_at: int) -> list[list]:
    """A final 'total' row (and one without heads, where there are heads)."""
    rows = []
    for label, t in [("total", stats.totals)] + (
            [("without heads", stats.main)] if stats.network.heads else []):
        cells = [label] + [""] * (width - 1)
        cells[params_at], cells[params_at + 1] = t.params, t.macs
        rows.append(cells)
    return rows


def resnet_table(stats: Stats) -> Table:
    net = stats.network
    rows = [[row_label(row), dims(net.shape(row.output)), row_layers(net, row),
             r.totals.params, r.totals.macs] for row, r in zip(net.rows, stats.rows)]
    return Table(["layer name", "output size", "layers", "params", "MACs"],
                 ["text", "text", "text", "count", "ops"], rows + totals_rows(stats, 5, 3))


def googlenet_table(stats: Stats) -> Table:
    net = stats.network
    rows = []
    for row, r in zip(net.rows, stats.rows):
        columns = inception_columns(stats, row) or {}
        rows.append([row_label(row), r.type, r.patch, dims(r.output_shape), str(r.depth),
                     *(str(columns.get(c, "")) for c in INCEPTION_COLUMNS),
                     r.totals.params, r.totals.macs])
    return Table(["layer", "type", "patch size/stride", "output size", "depth",
                  *INCEPTION_COLUMNS, "params", "ops"],
                 ["text"] * 11 + ["count", "ops"], rows + totals_rows(stats, 13, 11))


def plain_table(stats: Stats) -> Table:
    net = stats.network
    fields = receptive_fields(net)
    rows = [[row_label(row), r.type, r.patch, dims(r.output_shape), fields[row.output].text(),
             str(r.depth), r.totals.params, r.totals.macs]
            for row, r in zip(net.rows, stats.rows)]
    return Table(["row", "type", "patch/stride", "output", "field/stride", "depth", "params",
                  "MACs"], ["text"] * 6 + ["count", "ops"], rows + totals_rows(stats, 8, 6))


# --- what a row holds -------------------------------------------------------------------

def shown_layers(net, nodes) -> list[Layer]:
    """The layers a paper's table names: not the compiler's joins, BN or activations
    (unless that is all there is), nor the shortcut projections ResNet's table omits."""
    layers = [net.layers[n] for n in nodes]
    written = [layer for layer in layers if not layer.kind.internal and not layer.shortcut]
    return [layer for layer in written if not layer.kind.minor] or written


def row_layers(net, row) -> list:
    """A row's layers as lines: a plain layer as the paper writes it, a block call as a
    bracket of its layers (without strides, as in ResNet's Table 1), and runs of equal
    lines merged into one bracket ×n."""
    units: list[list] = []  # [block call or layer, descriptions, is a call]
    for layer in shown_layers(net, row.nodes):
        call = layer.call
        text = layer.kind.describe(layer.attrs, strides=call is None)
        if call is not None and units and units[-1][0] == call:
            units[-1][1] += (text,)
        else:
            units.append([call or layer.name, (text,), call is not None])
    runs: list[list] = []  # [descriptions, is a call, times]
    for _, texts, call in units:
        if runs and runs[-1][:2] == [texts, call]:
            runs[-1][2] += 1
        else:
            runs.append([texts, call, 1])
    return [Bracket(texts, times) if call or times > 1 else texts[0]
            for texts, call, times in runs]


def inception_columns(stats: Stats, row) -> dict | None:
    """GoogLeNet's six columns for a row whose output concatenates the four inception
    branches (1×1; 1×1 then 3×3; 1×1 then 5×5; pool then 1×1), or the reduce columns of
    a plain 1×1-then-3×3 row like GoogLeNet's conv2; None for any other row."""
    net = stats.network
    out = net.layers[row.output]
    if not out.kind.concatenates:
        columns = branch_columns([net.layers[n] for n in row.nodes
                                  if net.layers[n].kind.sliding])
        return columns if columns and "#3×3 reduce" in columns else None
    columns = {}
    for end in out.inputs:
        named = branch_columns(branch_layers(net, set(row.nodes), end))
        if named is None or set(named) & set(columns):
            return None
        columns.update(named)
    return columns


def branch_layers(net, row_nodes: set, end: str) -> list[Layer]:
    """The conv and pool layers of one branch, walking back from its end to the fork."""
    layers = []
    node = end
    while node in row_nodes and net.graph.out_degree(node) == 1:
        layer = net.layers[node]
        if layer.kind.sliding:
            layers.insert(0, layer)
        node = layer.inputs[0]
    return layers


def branch_columns(branch: list[Layer]) -> dict | None:
    kernels = [layer.attrs.get("kernel", "pool") for layer in branch]  # pools have a size
    filters = [layer.attrs.get("filters") for layer in branch]
    if kernels == [(1, 1)]:
        return {"#1×1": filters[0]}
    if kernels in ([(1, 1), (3, 3)], [(1, 1), (5, 5)]):
        k = kernels[1][0]
        return {f"#{k}×{k} reduce": filters[0], f"#{k}×{k}": filters[1]}
    if kernels == ["pool", (1, 1)]:
        return {"pool proj": filters[1]}
    return None


# --- formats ----------------------------------------------------------------------------

def cell_text(value, kind: str, fmt: str) -> str | list:
    if kind == "text":
        return value
    if value == "":
        return ""
    if fmt == "csv":
        return str(value)
    return f"{value:,}" if kind == "count" else human(value)


def lines_of(cell) -> list:
    return cell if isinstance(cell, list) else [cell]


def markdown(table: Table) -> str:
    def cell(value, kind):
        text = cell_text(value, kind, "markdown")
        return "<br>".join(x.text() if isinstance(x, Bracket) else x
                           for x in lines_of(text)).replace("|", "\\|")
    out = ["| " + " | ".join(table.headers) + " |",
           "|" + "|".join("---:" if k != "text" else "---" for k in table.kinds) + "|"]
    for row in table.rows:
        out.append("| " + " | ".join(cell(v, k) for v, k in zip(row, table.kinds)) + " |")
    return "\n".join(out)


LATEX_ESCAPES = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
                 "$": r"\$", "{": r"\{", "}": r"\}", "×": r"$\times$"}


def tex(text: str) -> str:
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in text)


def latex_line(line) -> str:
    """A bracket is typeset as in ResNet's Table 1: a column of layers in tall square
    brackets, then ×n."""
    if not isinstance(line, Bracket):
        return tex(line)
    column = r"\\".join(rf"\mbox{{{tex(layer)}}}" for layer in line.layers)
    return rf"$\left[\begin{{array}}{{c}}{column}\end{{array}}\right]\times{line.times}$"


def latex(table: Table) -> str:
    def cell(value, kind):
        parts = [latex_line(x) for x in lines_of(cell_text(value, kind, "latex"))]
        if len(parts) == 1:
            return parts[0]
        return r"\begin{tabular}[c]{@{}c@{}}" + r"\\".join(parts) + r"\end{tabular}"
    spec = "".join("r" if k != "text" else "l" for k in table.kinds)
    out = [rf"\begin{{tabular}}{{{spec}}}", r"\hline",
           " & ".join(tex(h) for h in table.headers) + r" \\", r"\hline"]
    out += [" & ".join(cell(v, k) for v, k in zip(row, table.kinds)) + r" \\"
            for row in table.rows]
    return "\n".join(out + [r"\hline", r"\end{tabular}"])


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["\n".join(x.text() if isinstance(x, Bracket) else x
                                   for x in lines_of(cell_text(v, k, "csv")))
                         for v, k in zip(row, table.kinds)])
    return buffer.getvalue().rstrip("\n")


def html(table: Table) -> str:
    """A bracket is a column of layers between tall square brackets, then ×n, as in
    ResNet's Table 1 (the class names let a page style it; plain HTML still reads)."""
    def line(x) -> str:
        if not isinstance(x, Bracket):
            return escape(x)
        column = "<br>".join(escape(layer) for layer in x.layers)
        return (f"<span class='nnc-bracket'><span class='nnc-stack'>{column}</span></span>"
                f" ×{x.times}")

    def cell(value, kind) -> str:
        return "<br>".join(line(x) for x in lines_of(cell_text(value, kind, "html")))
    align = ["num" if k != "text" else "" for k in table.kinds]
    head = "".join(f"<th class='{a}'>{escape(h)}</th>" for h, a in zip(table.headers, align))
    body = "".join("<tr>" + "".join(f"<td class='{a}'>{cell(v, k)}</td>"
                                    for v, k, a in zip(row, table.kinds, align)) + "</tr>"
                   for row in table.rows)
    return (f"<table class='nnc-paper'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")
