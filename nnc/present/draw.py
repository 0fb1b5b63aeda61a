"""`nnc draw FILE -o net.svg|png|pdf|dot`: a Graphviz diagram of the checked graph.

Collapsed (the default), the diagram reads like the paper's table: each row with more
than one part is a box (a cluster) named after the row; each block call is one node,
repeated calls of the same written unit (`bottleneck(256) x35`) are one node `×35`, and
BN, activations, dropout and LRN are folded into the layer they follow. ResNet-152 comes
out as a dozen nodes. `--expand` draws every layer, with rows and block calls as nested
clusters. Every node is labelled with its output shape and its parameters. A network
with skips (`skip(row)`) is drawn as a U, as U-Net's Figure 1 is: down on the left, up
on the right, each skip running level from the earlier row to the row that joins it.

The `graphviz` Python package (and, for svg/png/pdf, Graphviz's `dot` program) is
needed only here; the rest of nnc never imports it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape

from nnc.analysis.compiled import Compiled
from nnc.errors import ArchIOError
from nnc.ir.network import Layer, Network
from nnc.present.output import write_atomically
from nnc.wording import dims, human

FORMATS = ("svg", "png", "pdf", "dot")
FILLS = {"call": "#e6ddf7", "weights": "#d6e6f5", "pool": "#fbe3c4", "join": "#eeeeee",
         "other": "#f5f5f5", "input": "#ffffff"}


@dataclass
class Group:
    """One node of the diagram: a layer, a layer with the pointwise layers folded into
    it, or the layers of one (possibly repeated) block call."""
    key: str
    row: str | None
    nodes: list[str] = field(default_factory=list)
    call: str | None = None          # the block call's text, for a block-call group
    instances: set = field(default_factory=set)
    clusters: tuple = ()             # the nested clusters it is drawn in, outermost first


def group_layers(net: Network, expand: bool) -> tuple[dict[str, str], dict[str, Group]]:
    """Map every layer to the key of the diagram node that shows it."""
    group_of: dict[str, str] = {}
    groups: dict[str, Group] = {}
    for node, layer in net.layers.items():
        instance = layer.call
        if expand:
            key = node
        elif instance:
            frame = instance[0]
            key = f"{layer.row}/{frame.call}@{frame.called_at.line}:{frame.called_at.column}"
        elif folds_into_input(net, layer, groups, group_of):
            key = group_of[layer.inputs[0]]
        else:
            key = node
        group = groups.setdefault(key, Group(key, layer.row))
        group.nodes.append(node)
        if instance and not expand:
            group.call = instance[0].call
            group.instances.add(instance[1])
        group_of[node] = key
    return group_of, groups


def folds_into_input(net: Network, layer: Layer, groups, group_of) -> bool:
    """A BN, activation, dropout or LRN right after a layer of the same row, which
    nothing else reads, is drawn inside that layer's node."""
    if not layer.kind.minor or len(layer.inputs) != 1:
        return False
    source = net.layers[layer.inputs[0]]
    return (source.row == layer.row and net.graph.out_degree(source.name) == 1
            and groups[group_of[source.name]].call is None and not source.kind.internal)


def assign_clusters(net: Network, groups: dict[str, Group], expand: bool) -> dict:
    """Give each group its cluster path: its row's cluster (when the row has more than
    one node) and, when expanded, one cluster per block call around it. Returns the
    label of every cluster."""
    labels = {}
    per_row: dict = {}
    for g in groups.values():
        per_row.setdefault(g.row, []).append(g)
    rows = {r.name: r for r in net.rows}
    for row_name, members in per_row.items():
        row = rows.get(row_name)
        row_cluster = (f"row:{row_name}",) if row and len(members) > 1 else ()
        if row_cluster:
            labels[row_cluster[0]] = row_title(row)
        for g in members:
            g.clusters = row_cluster
            if expand:
                g.clusters += call_clusters(net.layers[g.nodes[0]], labels)
        if row_cluster and len({g.clusters[1:2] for g in members}) == 1 \
                and len(members[0].clusters) > 1:  # the row is one block call: one box
            call = members[0].clusters[1]
            labels[call] = f"{labels[row_cluster[0]]}<br/>{labels[call].split(': ', 1)[1]}"
            for g in members:
                g.clusters = g.clusters[1:]
    return labels


def call_clusters(layer: Layer, labels: dict) -> tuple:
    """One cluster per block call a layer is inside, named after the call."""
    result = []
    for frame, call in zip(layer.chain, layer.calls):
        labels["call:" + call] = escape(f"{call}: {frame.call}")
        result.append("call:" + call)
    return tuple(result)


def row_title(row) -> str:
    """Just the name: the label sits at the top left, and a longer one would run into
    the edges that enter the box down its middle. The nodes carry the params."""
    return f"<b>{escape(row.name)}</b>" + (" (head)" if row.head else "")


def category(net: Network, g: Group) -> str:
    if g.call:
        return "call"
    kind = net.layers[g.nodes[0]].kind
    if g.nodes[0] == net.input:
        return "input"
    if kind.weight_layer:
        return "weights"
    if kind.sliding:  # pools: convs and subsampling are weight layers, caught above
        return "pool"
    return "join" if kind.internal else "other"


def label(net: Network, g: Group, row_named: bool, expand: bool) -> str:
    """An HTML-like label: the row (when the node is a row of its own), what the node
    is, its output shape and its parameters."""
    last = net.layers[g.nodes[-1]]
    params = sum(sum(net.layers[n].params) for n in g.nodes)
    if g.call:
        title = g.call + (f" ×{len(g.instances)}" if len(g.instances) > 1 else "")
    elif g.nodes[0] == net.input:
        title = "input"
    else:
        title = layer_title(net.layers[g.nodes[0]], expand)
        title += "".join(f" + {net.layers[n].kind.name}" for n in g.nodes[1:])
    lines = [f"<b>{escape(g.row)}</b>"] if row_named and g.row else []
    lines += [escape(title), f'<font point-size="10">{dims(last.shape)}'
              + (f" · {human(params)} params" if params else "") + "</font>"]
    # a table, because in plain <br/> lines an underscore runs into the line below
    cells = "".join(f"<tr><td>{line}</td></tr>" for line in lines)
    return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>>'


def layer_title(layer: Layer, expand: bool) -> str:
    """`conv 7×7, 64, stride 2`; expanded, the layer's own name instead of its kind
    (`conv2: 3×3, 64`), to match `nnc stats --expand`."""
    kind = layer.kind
    text = kind.describe(layer.attrs)
    if expand:
        return f"{layer.name.rsplit('.', 1)[-1]}: {text}"
    return text if not kind.weight_layer or names_the_layer(text) else f"{kind.name} {text}"


def names_the_layer(description: str) -> bool:
    """Whether a kind's wording says what the layer is (`up-conv 2×2, 512`, `1000-d fc`,
    `3×3 dw`), or gives only its numbers, as a table does under a column that names it
    (conv's `3×3, 64`): a word before the first comma."""
    return any(c.isalpha() for c in description.split(",", 1)[0])


GRAPH = {"rankdir": "TB", "fontname": "Helvetica", "fontsize": "12", "nodesep": "0.25",
         "ranksep": "0.3", "labelloc": "t"}
NODE = {"shape": "box", "style": "rounded,filled", "fontname": "Helvetica", "fontsize": "11",
        "margin": "0.12,0.04"}
EDGE = {"arrowsize": "0.6", "color": "#555555"}
# A skip's edges: on one rank where they can be (minlen 0), and held there by a weight no
# stretch of the other edges outweighs. Not rank=same, which pulls nodes out of clusters.
LEVEL = {"minlen": "0", "weight": "1000"}
CLUSTER = {"color": "#888888", "fontname": "Helvetica", "fontsize": "11",
           "labeljust": "l"}  # top left, clear of the edges that enter down the middle


def diagram(compiled: Compiled, expand: bool = False):
    """The graphviz.Digraph of a network (imports the graphviz package)."""
    return drawing(compiled, expand)[0]


def drawing(compiled: Compiled, expand: bool = False) -> tuple:
    """The graphviz.Digraph and, for each of its node ids, the layers the node shows
    (what `nnc view` lists when a node is clicked)."""
    graphviz = import_graphviz()
    net = compiled.network
    group_of, groups = group_layers(net, expand)
    labels = assign_clusters(net, groups, expand)
    dot = graphviz.Digraph(net.name, node_attr=NODE, edge_attr=EDGE, graph_attr={
        **GRAPH, "label": f"{net.name} ({'every layer' if expand else 'collapsed'})"})
    ids = {key: f"n{i}" for i, key in enumerate(groups)}  # keys hold ':', which dot reads
    add_nodes(dot, net, groups, labels, ids, expand)
    add_edges(dot, net, groups, group_of, ids)
    return dot, {ids[key]: g.nodes for key, g in groups.items()}


def add_edges(dot, net: Network, groups: dict, group_of: dict, ids: dict):
    """One edge per pair of nodes a layer connects. A skip's edges run across, pulled
    level (U-Net's Figure 1); on the way up a U (rows_going_up) an edge is laid out from
    its head to its tail, its arrow turned back, so that dot stacks that path upward."""
    skips = find_skips(net)
    upward = rows_going_up(net, skips)
    across = {(group_of[a], group_of[b]) for s in skips
              for a, b in zip((s.source, *s.path), s.path)}
    edges = dict.fromkeys(  # in creation order, so the same file gives the same drawing
        (group_of[i], group_of[n]) for n, layer in net.layers.items()
        for i in layer.inputs if group_of[i] != group_of[n])
    for source, target in edges:
        if (source, target) in across:
            dot.edge(ids[source], ids[target], **LEVEL)
        elif groups[target].row in upward:
            dot.edge(ids[target], ids[source], dir="back")
        else:
            dot.edge(ids[source], ids[target])


@dataclass(frozen=True)
class Skip:
    """An earlier row's maps joined to a later row's (`skip(row)`): found in the graph as
    an edge into a row from another row's output that is not the row's own input, and
    leads to a layer that joins it to the row's maps (a side head taps a row and joins
    nothing)."""
    source_row: str
    join_row: str
    source: str               # the earlier row's layer it takes (the row's output)
    path: tuple[str, ...]     # the joining row's layers from the one that reads it (a
                              # crop) to the one that joins it (a concat or an add)


def find_skips(net: Network) -> list[Skip]:
    rows = {r.name: r for r in net.rows}
    skips = []
    for name, layer in net.layers.items():
        for i in layer.inputs:
            source_row = net.layers[i].row
            if source_row in (None, layer.row) or i == rows[layer.row].input:
                continue
            path = join_path(net, name)
            if len(net.layers[path[-1]].inputs) > 1:
                skips.append(Skip(source_row, layer.row, i, path))
    return skips


def join_path(net: Network, reader: str) -> tuple[str, ...]:
    """From the layer that reads a skip's maps along the single chain to the first layer
    with more than one input, where the skip joins the row's own maps."""
    path = [reader]
    while len(net.layers[path[-1]].inputs) < 2 and net.graph.out_degree(path[-1]) == 1:
        path.append(next(iter(net.graph.successors(path[-1]))))
    return tuple(path)


def rows_going_up(net: Network, skips: list[Skip]) -> set[str]:
    """The rows on the way up a U: from a row that joins a skip on, until a row whose
    maps a later skip takes starts the next way down (a stacked hourglass)."""
    joins, sources = {s.join_row for s in skips}, {s.source_row for s in skips}
    upward, going_up = set(), False
    for row in net.rows:
        going_up = row.name in joins or (going_up and row.name not in sources)
        if going_up:
            upward.add(row.name)
    return upward


def add_nodes(dot, net: Network, groups: dict, labels: dict, ids: dict, expand: bool):
    """Add every group as a node, inside its nested clusters; side heads dashed."""
    heads = {r.name for r in net.heads}
    tree: dict[tuple, list] = {}
    for g in groups.values():
        tree.setdefault(g.clusters, []).append(g)
    # every cluster, in the order its first layer was made, so output is reproducible
    paths = list(dict.fromkeys(p[:i] for p in tree for i in range(len(p) + 1)))

    def emit(sub, path: tuple):
        for g in tree.get(path, []):
            style = "rounded,filled,dashed" if g.row in heads else "rounded,filled"
            sub.node(ids[g.key], label(net, g, not g.clusters, expand),
                     fillcolor=FILLS[category(net, g)], style=style)
        for child in (p for p in paths if len(p) == len(path) + 1 and p[:-1] == path):
            head = child[-1].removeprefix("row:") in heads
            with sub.subgraph(name=f"cluster_{paths.index(child)}") as inner:
                inner.attr(label=f"<{labels[child[-1]]}>", **CLUSTER,
                           style="rounded,dashed" if head else "rounded")
                emit(inner, child)
    emit(dot, ())


def draw(compiled: Compiled, path: str, expand: bool = False) -> str:
    """Write the diagram to `path`, in the format its suffix names; returns the format."""
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise ArchIOError(f"cannot tell the diagram's format from '{path}': the name must "
                          f"end in {', '.join('.' + f for f in FORMATS)}. Received: {path}")
    dot = diagram(compiled, expand)
    if fmt == "dot":
        data = dot.source.encode()
    else:
        graphviz = import_graphviz()
        try:
            data = dot.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise ArchIOError(f"drawing {fmt} needs Graphviz's `dot` program, which is not "
                              f"installed (Debian/Ubuntu: apt-get install graphviz); "
                              f"-o {os.path.splitext(path)[0]}.dot needs only Python") from None
    write_atomically(path, data)
    return fmt


def import_graphviz():
    try:
        import graphviz  # only `nnc draw` needs it
    except ModuleNotFoundError:
        raise ArchIOError("`nnc draw` needs the graphviz Python package: pip install "
                          "graphviz (or pip install 'nnc[draw]')") from None
    return graphviz
