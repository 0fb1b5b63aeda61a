"""`nnc diff A.arch B.arch`: what changes from one network to another, row by row and in
total: params, MACs, output shapes and receptive fields, and the layers whose kind,
attributes or shape changed (`conv3.conv3: 1×1, 256 -> 3×3, 256` from VGG-C to VGG-D).

Rows are matched by name, in the order of both files (a row only in A or only in B is
shown where it stands); layers inside matched rows are matched by their names, which
follow the source (`conv4_x.3.conv2`).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from html import escape

from nnc.analysis.compiled import Compiled
from nnc.analysis.receptive import Field, receptive_fields
from nnc.ir.network import Layer
from nnc.present.report import table
from nnc.wording import dims, human


@dataclass(frozen=True)
class RowSide:
    params: int
    macs: int
    output_shape: tuple
    field: Field

    def json(self) -> dict:
        return {"params": self.params, "macs": self.macs,
                "output_shape": list(self.output_shape),
                "receptive_field": self.field.json()}


@dataclass(frozen=True)
class RowDiff:
    name: str
    a: RowSide | None   # None: the row is only in B
    b: RowSide | None   # None: the row is only in A
    layers_changed: int

    @property
    def status(self) -> str:
        if self.a is None or self.b is None:
            return "added" if self.a is None else "removed"
        return "changed" if self.a != self.b or self.layers_changed else "same"


@dataclass(frozen=True)
class LayerDiff:
    name: str
    a: dict   # kind, layer (as the papers write it), output_shape, params
    b: dict


@dataclass(frozen=True)
class Diff:
    a: Compiled
    b: Compiled
    rows: list[RowDiff]
    layers: list[LayerDiff]
    only: dict   # "a" / "b" -> number of layers in matched rows found on one side only


def compare(a: Compiled, b: Compiled) -> Diff:
    sides = [row_sides(c) for c in (a, b)]
    names = [[r.name for r in c.network.rows] for c in (a, b)]
    rows, layers, only = [], [], {"a": 0, "b": 0}
    matcher = difflib.SequenceMatcher(a=names[0], b=names[1], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for name in names[0][i1:i2]:
                changed = layer_diffs(a, b, name, only)
                layers += changed
                rows.append(RowDiff(name, sides[0][name], sides[1][name], len(changed)))
            continue
        rows += [RowDiff(n, sides[0][n], None, 0) for n in names[0][i1:i2]]
        rows += [RowDiff(n, None, sides[1][n], 0) for n in names[1][j1:j2]]
    return Diff(a, b, rows, layers, only)


def row_sides(c: Compiled) -> dict[str, RowSide]:
    net = c.network
    fields = receptive_fields(net)
    return {row.name: RowSide(r.totals.params, r.totals.macs, r.output_shape,
                              fields[row.output])
            for row, r in zip(net.rows, c.stats.rows)}


def layer_side(layer: Layer) -> dict:
    return {"kind": layer.kind.name, "layer": layer.kind.describe(layer.attrs),
            "attrs": layer.attrs, "output_shape": layer.shape, "params": sum(layer.params)}


def layer_diffs(a: Compiled, b: Compiled, row: str, only: dict) -> list[LayerDiff]:
    """Layers of a row present in both files whose kind, attributes or shape differ;
    counts the layers on one side only into `only`."""
    nodes = [{n for n, layer in c.network.layers.items() if layer.row == row}
             for c in (a, b)]
    only["a"] += len(nodes[0] - nodes[1])
    only["b"] += len(nodes[1] - nodes[0])
    order = [n for n in a.network.layers if n in nodes[1] and n in nodes[0]]
    result = []
    for node in order:
        sa, sb = layer_side(a.network.layers[node]), layer_side(b.network.layers[node])
        if sa != sb:
            result.append(LayerDiff(node, sa, sb))
    return result


# --- output -----------------------------------------------------------------------------

def signed(n: int, fmt=lambda v: f"{v:,}") -> str:
    return "" if n == 0 else ("+" if n > 0 else "-") + fmt(abs(n))


def change(a: str | None, b: str | None) -> str:
    if a is None or b is None:
        return a or b or ""
    return a if a == b else f"{a} → {b}"


ROW_HEADERS = ["row", "", "output", "field/stride", "params", "Δparams", "ΔMACs"]
LAYER_HEADERS = ["layer", "was", "now", "output", "Δparams"]


def row_cells(r: RowDiff) -> list[str]:
    a, b = r.a, r.b
    return [r.name, r.status,
            change(a and dims(a.output_shape), b and dims(b.output_shape)),
            change(a and a.field.text(), b and b.field.text()),
            change(a and f"{a.params:,}", b and f"{b.params:,}"),
            signed((b.params if b else 0) - (a.params if a else 0)),
            signed((b.macs if b else 0) - (a.macs if a else 0), human)]


def layer_cells(x: LayerDiff) -> list[str]:
    return [x.name, x.a["layer"], x.b["layer"],
            change(dims(x.a["output_shape"]), dims(x.b["output_shape"])),
            signed(x.b["params"] - x.a["params"])]


def format_text(d: Diff) -> str:
    na, nb = d.a.network, d.b.network
    lines = [f"diff {na.name} ({na.file}) → {nb.name} ({nb.file})", ""]
    lines.append(table(ROW_HEADERS, [row_cells(r) for r in d.rows], {5, 6}))
    if d.layers:
        lines += ["", "changed layers:"]
        lines.append(table(LAYER_HEADERS, [layer_cells(x) for x in d.layers], {4}))
    if d.only["a"] or d.only["b"]:
        lines += ["", f"layers only in {na.name}: {d.only['a']}; only in {nb.name}: "
                      f"{d.only['b']} (within rows of the same name)"]
    ta, tb = d.a.stats.totals, d.b.stats.totals
    lines += ["", f"params: {ta.params:,} → {tb.params:,} ({signed(tb.params - ta.params) or '±0'})",
              f"MACs: {ta.macs:,} → {tb.macs:,} ({signed(tb.macs - ta.macs) or '±0'}; "
              f"{human(ta.macs)} → {human(tb.macs)})"]
    return "\n".join(lines)


def to_json(d: Diff) -> dict:
    ta, tb = d.a.stats.totals, d.b.stats.totals
    return {
        "a": {"network": d.a.network.name, "file": d.a.network.file},
        "b": {"network": d.b.network.name, "file": d.b.network.file},
        "rows": [{"name": r.name, "status": r.status,
                  "a": r.a.json() if r.a else None, "b": r.b.json() if r.b else None,
                  "delta": {"params": (r.b.params if r.b else 0) - (r.a.params if r.a else 0),
                            "macs": (r.b.macs if r.b else 0) - (r.a.macs if r.a else 0)}}
                 for r in d.rows],
        "layers": [{"name": x.name, **{side: {"kind": s["kind"], "layer": s["layer"],
                                              "output_shape": list(s["output_shape"]),
                                              "params": s["params"]}
                                       for side, s in (("a", x.a), ("b", x.b))}}
                   for x in d.layers],
        "layers_only_in": d.only,
        "totals": {"a": {"params": ta.params, "macs": ta.macs},
                   "b": {"params": tb.params, "macs": tb.macs},
                   "delta": {"params": tb.params - ta.params, "macs": tb.macs - ta.macs}},
    }


def format_html(d: Diff) -> str:
    """The tables of format_text as HTML, for `nnc view A B`: one line per row of either
    file, marked with its status, then the changed layers and the totals."""
    def html_table(headers, rows, numeric, status=None) -> str:
        head = "".join(f"<th>{escape(h)}</th>" for h in headers)
        body = "".join(
            f"<tr class='{status[n] if status else ''}'>" + "".join(
                f"<td class='{'num' if i in numeric else ''}'>{escape(c)}</td>"
                for i, c in enumerate(cells)) + "</tr>" for n, cells in enumerate(rows))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    na, nb = d.a.network, d.b.network
    parts = [f"<h1>diff {escape(na.name)} → {escape(nb.name)}</h1>",
             html_table(ROW_HEADERS, [row_cells(r) for r in d.rows], {5, 6},
                        [r.status for r in d.rows])]
    if d.layers:
        parts += ["<h2>changed layers</h2>",
                  html_table(LAYER_HEADERS, [layer_cells(x) for x in d.layers], {4})]
    ta, tb = d.a.stats.totals, d.b.stats.totals
    parts.append(f"<p>params: {ta.params:,} → {tb.params:,} "
                 f"({escape(signed(tb.params - ta.params) or '±0')}); MACs: "
                 f"{escape(human(ta.macs))} → {escape(human(tb.macs))} "
                 f"({escape(signed(tb.macs - ta.macs, human) or '±0')})</p>")
    return f"<div class='nnc-diff'>{''.join(parts)}</div>"
