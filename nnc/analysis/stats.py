"""Counting over the checked graph: per-row and total params, MACs, connections and
depth, in the layout of the papers' tables; and the `expect` lines that check them.

Conventions (printed in every report): params as Keras counts them, trainable plus
non-trainable (BatchNorm's moving mean and variance); MACs are the multiply-accumulates
of one image's forward pass through conv and fc layers, which is what the papers call
"FLOPs" (ResNet) and "multiply-adds" or "ops" (GoogLeNet); FLOPs = 2 × MACs.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnc.analysis.memory import memory
from nnc.analysis.paths import count_paths
from nnc.analysis.receptive import receptive_fields
from nnc.ir.network import Layer, Network

CONVENTIONS = ("params as Keras counts them (trainable + non-trainable; BatchNorm moving "
               "mean/variance are non-trainable); MACs = multiply-accumulates of one image's "
               "forward pass (conv and fc: the papers' FLOPs/multiply-adds); FLOPs = 2 × MACs")


@dataclass(frozen=True)
class Totals:
    trainable: int
    non_trainable: int
    macs: int
    connections: int

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


@dataclass(frozen=True)
class RowStats:
    name: str
    type: str
    patch: str
    output_shape: tuple
    depth: int
    totals: Totals
    line: int
    head: bool


@dataclass(frozen=True)
class Stats:
    network: Network
    totals: Totals            # every layer in the file, heads included
    main: Totals              # without side heads: the inference network
    weight_layers: int
    depth: dict               # node -> weight layers on the longest path from the input
    rows: list[RowStats]

    def row(self, name: str) -> RowStats | None:
        return next((r for r in self.rows if r.name == name), None)


def compute(net: Network) -> Stats:
    layers = net.layers
    depth = {}
    for node, layer in layers.items():  # insertion order is topological
        below = max((depth[i] for i in layer.inputs), default=0)
        depth[node] = below + layer.kind.weight_layer
    head_nodes = {n for r in net.heads for n in r.nodes}
    rows = [row_stats(net, row, depth) for row in net.rows]
    return Stats(net, totals_of(layers.values()),
                 totals_of(layer for n, layer in layers.items() if n not in head_nodes),
                 depth[net.output], depth, rows)


def totals_of(layers) -> Totals:
    """The sums over some layers."""
    trainable = non_trainable = macs = connections = 0
    for layer in layers:
        trainable += layer.params[0]
        non_trainable += layer.params[1]
        macs += layer.macs
        connections += layer.connections
    return Totals(trainable, non_trainable, macs, connections)


def row_stats(net: Network, row, depth) -> RowStats:
    layers = net.layers
    windows = [layers[n] for n in row.nodes if layers[n].kind.sliding]
    patch = ""
    if len(windows) <= 2:  # a conv and its pool, as in AlexNet's rows; blocks have more
        patch = ", ".join(f"{k[0]}×{k[1]}/{s[0]}"
                          for k, s in (window_of(net, layer) for layer in windows))
    start = row.input if not row.head else layers[row.nodes[0]].inputs[0]
    return RowStats(row.name, row.type, patch, net.shape(row.output),
                    depth[row.output] - depth[start],
                    totals_of(layers[n] for n in row.nodes), row.coord.line, row.head)


def window_of(net: Network, layer: Layer):
    """The (kernel, stride) pair a layer applies, from its kind's rule."""
    return layer.kind.window(layer.attrs, [net.shape(i) for i in layer.inputs])


# --- JSON ---------------------------------------------------------------------------

def totals_json(t: Totals) -> dict:
    return {"params": {"total": t.params, "trainable": t.trainable,
                       "non_trainable": t.non_trainable},
            "macs": t.macs, "flops": 2 * t.macs, "connections": t.connections}


def to_json(stats: Stats, batch: int = 1, dtype: str = "float32") -> dict:
    """The stats as JSON; `batch` and `dtype` size the "memory" figures."""
    net = stats.network
    fields = receptive_fields(net)
    result = {"network": net.name, "file": net.file,
              "input": list(net.shape(net.input)),
              "output_shape": list(net.shape(net.output)),
              **totals_json(stats.totals), "weight_layers": stats.weight_layers,
              "conventions": CONVENTIONS}
    if net.heads:
        result["without_heads"] = totals_json(stats.main)
        result["heads"] = [{"name": r.name, "output_shape": list(net.shape(r.output)),
                            "loss_weight": r.loss_weight} for r in net.heads]
    result["rows"] = [{
        "name": r.name, "type": r.type, "patch": r.patch, "output_shape": list(r.output_shape),
        "depth": r.depth, "params": r.totals.params, "trainable": r.totals.trainable,
        "macs": r.totals.macs, "connections": r.totals.connections, "line": r.line,
        "head": r.head, "receptive_field": fields[net_row.output].json()}
        for r, net_row in zip(stats.rows, net.rows)]
    result["layers"] = [{**layer_json(layer), "receptive_field": fields[name].json()}
                        for name, layer in net.layers.items()]
    result["memory"] = memory(net, batch, dtype).json()
    result["paths"] = count_paths(net).json()
    return result


def layer_json(layer: Layer) -> dict:
    return {"name": layer.name, "kind": layer.kind.name, "row": layer.row,
            "output_shape": list(layer.shape), "params": sum(layer.params),
            "trainable": layer.params[0], "macs": layer.macs,
            "connections": layer.connections, "line": layer.coord.line,
            "column": layer.coord.column,
            "expanded_from": [str(frame) for frame in layer.chain]}
