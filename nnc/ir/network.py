"""The checked network: primitive layers, each with its kind, attributes, shape, counts,
source position and place in the structure the file wrote (row, block calls, residual
unit, shortcut), and the rows of the paper's table that made them.

Structure is data here: passes ask a layer which residual unit it belongs to or whether
it is part of a shortcut, and never read that back out of its name.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from nnc.errors import Coord, Frame
from nnc.ir.kinds import Kind

BODY = 0  # a residual unit's add takes its body first, then its shortcut


@dataclass(slots=True, eq=False)
class Layer:
    """One primitive layer of the checked network, named after the source
    (`conv4_x.3.conv2`: the second conv of the third block call in row conv4_x)."""
    name: str
    kind: Kind
    attrs: dict
    inputs: tuple[str, ...]
    shape: tuple[int, ...]            # without the batch axis: (H, W, C) or (C,)
    params: tuple[int, int]           # (trainable, non-trainable)
    macs: int
    connections: int
    coord: Coord                      # where the file wrote it
    chain: tuple[Frame, ...] = ()     # the block expansions it came from, outermost first
    calls: tuple[str, ...] = ()       # the name of each of those block calls (`conv3_x.2`)
    unit: str | None = None           # the add that closes the innermost residual unit
                                      # it is part of (an add closes its own unit)
    shortcut: bool = False            # part of that unit's shortcut, not of its body
    row: str | None = None            # the top-level row that made it

    @property
    def closes_unit(self) -> bool:
        """This is the add of a residual unit: body (input BODY) plus shortcut."""
        return self.unit == self.name

    @property
    def call(self) -> tuple[Frame, str] | None:
        """The outermost block call that made this layer, as (frame, call name), or
        None outside blocks: what a paper's table brackets."""
        return (self.chain[0], self.calls[0]) if self.calls else None


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
    graph: nx.DiGraph              # the edges, for graph algorithms
    layers: dict[str, Layer]       # every layer by name, in creation order (topological)
    input: str
    output: str
    rows: list[Row]
    expects: tuple  # the file's expect lines (lang.ast.Expect), for analysis.expects
    unused_parameters: tuple = ()  # (name, Coord) of network parameters nothing reads

    @property
    def heads(self) -> list[Row]:
        return [r for r in self.rows if r.head]

    def outputs(self, heads: bool = True) -> list[str]:
        """The output layer, then each side head's (unless `heads` is false)."""
        return [self.output] + ([r.output for r in self.heads] if heads else [])

    def shape(self, node: str) -> tuple[int, ...]:
        return self.layers[node].shape
