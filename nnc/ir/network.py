"""The checked network: a graph of primitive layers, each with its kind, attributes,
shape, counts and source position, and the rows of the paper's table that made them."""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from nnc.errors import Coord


@dataclass
class Row:
    """One top-level row of the file: one row of the paper's table."""
    name: str
    type: str
    coord: Coord
    nodes: list[str]
    input: str
    output: str
    head: bool = False
    loss_weight: float | None = None


@dataclass
class Network:
    name: str
    file: str
    source: str
    graph: nx.DiGraph
    input: str
    output: str
    rows: list[Row]
    expects: tuple  # the file's expect lines (lang.ast.Expect), for analysis.expects

    @property
    def heads(self) -> list[Row]:
        return [r for r in self.rows if r.head]


def node_data(net: Network) -> dict[str, dict]:
    """Every node's data by name, in creation order (which is topological), as a plain
    dict: these passes look up every node's inputs, and networkx's node view checks its
    argument on every lookup, which costs more than the arithmetic of a pass."""
    return dict(net.graph.nodes(data=True))
