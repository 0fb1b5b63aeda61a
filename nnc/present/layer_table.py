"""The table of `nnc view`'s page that expands from the paper's rows to block calls to
primitive layers, and the per-layer figures the page's script shows when a layer, a
diagram node or a source line is clicked.

Rows, calls and layers are found in the graph's structure (each layer's row and its
outermost block call), never in names. A row that is one layer, outside any block, has
nothing to expand: clicking it shows that layer.
"""
from __future__ import annotations

from html import escape

from nnc.analysis.compiled import Compiled
from nnc.analysis.receptive import Field
from nnc.analysis.stats import window_of
from nnc.ir.network import Layer, Network
from nnc.present.draw import layer_title
from nnc.present.report import ROW_HEADERS, ROW_NUMERIC, row_cells
from nnc.wording import dims, human


def layer_figures(net: Network, fields: dict[str, Field], depth: dict) -> list[dict]:
    """What the page shows of each layer, in creation order (the index is the layer's id
    in the page)."""
    return [{"name": name, "kind": layer.kind.name, "layer": layer.kind.describe(layer.attrs),
             "shape": dims(layer.shape), "trainable": layer.params[0],
             "non_trainable": layer.params[1], "macs": layer.macs, "macs_text": human(layer.macs),
             "field": fields[name].text(), "depth": depth.get(name, 0),
             "file": layer.coord.file, "line": layer.coord.line, "column": layer.coord.column,
             "chain": [str(frame) for frame in reversed(layer.chain)], "row": layer.row}
            for name, layer in net.layers.items()]


def lines_made(net: Network, use_line: int | None) -> dict[int, list[int]]:
    """For each line of the network's own file, the layers it made: written there, or
    made by a block call written there; a layer that no line of this file made came
    from a file it uses, through its `use` line."""
    made: dict[int, list[int]] = {}
    for index, layer in enumerate(net.layers.values()):
        places = {layer.coord, *(frame.called_at for frame in layer.chain)}
        lines = sorted({c.line for c in places if c.file == net.file})
        if not lines and use_line is not None:
            lines = [use_line]
        for line in lines:
            made.setdefault(line, []).append(index)
    return made


def table_html(compiled: Compiled, fields: dict[str, Field]) -> str:
    """The per-row table of `nnc stats`, each row followed by its hidden children."""
    net, stats = compiled.network, compiled.stats
    index = {name: i for i, name in enumerate(net.layers)}
    body = []
    for number, (row, cells) in enumerate(zip(net.rows, row_cells(stats, fields))):
        key = f"r{number}"
        single = len(row.nodes) == 1 and not net.layers[row.nodes[0]].calls
        layer_id = index[row.nodes[0]] if single else None
        body.append(tr(cells, 0, key, None, expandable=not single, layer=layer_id,
                       line=row.coord.line))
        if not single:
            body += [html for child in row_children(net, row.nodes)
                     for html in child_rows(net, child, key, fields, stats.depth, index)]
    head = "".join(f"<th class='{'num' if i in ROW_NUMERIC else ''}'>{escape(h)}</th>"
                   for i, h in enumerate(ROW_HEADERS))
    return (f"<table class='nnc-layers'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def row_children(net: Network, nodes: list[str]) -> list[tuple[str | None, list[str]]]:
    """The row's layers grouped by their outermost block call, in order: (call name,
    layers) for each call, (None, [layer]) for each layer outside calls."""
    groups: list[tuple[str | None, list[str]]] = []
    for node in nodes:
        call = net.layers[node].calls[0] if net.layers[node].calls else None
        if call is not None and groups and groups[-1][0] == call:
            groups[-1][1].append(node)
        else:
            groups.append((call, [node]))
    return groups


def child_rows(net: Network, child, parent: str, fields, depth, index) -> list[str]:
    call, nodes = child
    if call is None:
        [node] = nodes
        return [tr(layer_cells(net, net.layers[node], fields, depth), 1, None, parent,
                   layer=index[node], line=net.layers[node].coord.line)]
    key = f"{parent}c{index[nodes[0]]}"
    last = net.layers[nodes[-1]]
    frame = net.layers[nodes[0]].chain[0]
    params = sum(sum(net.layers[n].params) for n in nodes)
    macs = sum(net.layers[n].macs for n in nodes)
    connections = sum(net.layers[n].connections for n in nodes)
    cells = [call, frame.call, "", dims(last.shape), fields[last.name].text(),
             str(depth_within(net, nodes, depth)), f"{params:,}", human(macs),
             f"{connections:,}"]
    rows = [tr(cells, 1, key, parent, expandable=True, line=frame.called_at.line)]
    rows += [tr(layer_cells(net, net.layers[n], fields, depth), 2, None, key, layer=index[n],
                line=net.layers[n].coord.line) for n in nodes]
    return rows


def depth_within(net: Network, nodes: list[str], depth: dict) -> int:
    """Weight layers on the longest path through these layers, as the rows' depth
    column counts them (a row's depth is its own, not the depth from the input)."""
    first = net.layers[nodes[0]]
    below = max((depth[i] for i in first.inputs), default=0)
    return depth[nodes[-1]] - below


def layer_cells(net: Network, layer: Layer, fields, depth) -> list[str]:
    """A layer under the row's columns: its kind, what it is, its window where it
    slides one, and 1 in the depth column for a weight layer."""
    patch = ""
    if layer.kind.sliding:
        (kh, kw), (sh, _) = window_of(net, layer)
        patch = f"{kh}×{kw}/{sh}"
    return [layer.name, layer_title(layer, expand=False), patch, dims(layer.shape),
            fields[layer.name].text(), str(int(layer.kind.weight_layer)),
            f"{sum(layer.params):,}", human(layer.macs), f"{layer.connections:,}"]


def tr(cells: list[str], level: int, key: str | None, parent: str | None,
       expandable: bool = False, layer: int | None = None, line: int | None = None) -> str:
    """One table row; children start hidden and the page's script shows them."""
    attrs = [f"class='lv{level}{' nnc-open' if expandable else ''}'"]
    attrs += [f"data-key='{key}'"] if key else []
    attrs += [f"data-parent='{parent}' hidden"] if parent else []
    attrs += [f"data-layer='{layer}'"] if layer is not None else []
    attrs += [f"data-line='{line}'"] if line is not None else []
    toggle = "<button class='nnc-toggle' aria-label='expand'>▸</button>" if expandable else ""
    tds = "".join(f"<td class='{'num' if i in ROW_NUMERIC else ''}'>"
                  f"{toggle if i == 0 else ''}{escape(c)}</td>" for i, c in enumerate(cells))
    return f"<tr {' '.join(attrs)}>{tds}</tr>"
