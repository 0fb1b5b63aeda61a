"""A model read from another format (a Keras model, an ONNX graph), in a form no backend
owns: nodes of nnc kinds with nnc attributes, and what could not be read. The readers
(nnc/backends/*/raise_.py, the inverses of the lowering tables) fill it; this module
recovers the structure the language writes (residual units, concats, gates) from its
edges, and nnc/present/fold.py writes it as .arch text.

Structure recovery is series-parallel decomposition: from a node whose output several
layers read, the branches run to the node where they all meet again (its immediate
post-dominator), which must join exactly those branches (an add, a concat or a
multiply). A graph that is not built this way (a branch that leaves and joins
elsewhere) has no .arch form and is reported, never approximated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from nnc.ir.kinds import KINDS
from nnc.ir.kinds.base import same_padding


@dataclass
class Node:
    """One layer of the imported model, as an nnc kind; `op` is what the source calls
    it (`Conv2D`, `Conv`), for messages."""
    name: str
    kind: str
    attrs: dict
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    op: str

    @property
    def spec(self):
        return KINDS[self.kind]


IDENTITY = next(k.name for k in KINDS.values() if k.passes_on)


@dataclass
class Unsupported:
    """A node the language cannot express: where it is, what the source calls it, why."""
    name: str
    op: str
    why: str

    def line(self, source: str) -> str:
        return f"{source}: node '{self.name}' ({self.op}): {self.why}"


@dataclass
class Imported:
    """The model as read: nodes in topological order (the input first)."""
    name: str
    nodes: dict[str, Node]
    input: str
    outputs: list[str]
    unsupported: list[Unsupported] = field(default_factory=list)
    params: tuple[int, int] | None = None  # (trainable, non-trainable), as the source counts


@dataclass
class Compound:
    """A residual unit, concat or gate: branches of units from the fork to `join`.
    For a residual, branches[0] is the body and branches[1] the shortcut's layers."""
    type: str          # "residual", "concat" or "gate"
    branches: list[list]
    join: Node

    @property
    def name(self) -> str:
        return self.join.name


class NotStructured(Exception):
    """The graph is not series-parallel at this node: no .arch form."""

    def __init__(self, node: Node, why: str):
        super().__init__(why)
        self.node = node


def structure(model: Imported) -> list:
    """The model's units (Nodes and Compounds) from its input to its output."""
    if len(model.outputs) != 1:
        last = model.nodes[model.outputs[-1]]
        raise NotStructured(last, "a model with more than one output: nnc's side heads "
                                  "are not recovered by the import")
    graph = nx.DiGraph()
    for node in model.nodes.values():
        graph.add_node(node.name)
        graph.add_edges_from((i, node.name) for i in node.inputs)
    post = nx.immediate_dominators(graph.reverse(copy=False), model.outputs[0])
    return Decomposer(model, graph, post).sequence(model.input, model.outputs[0])


@dataclass
class Decomposer:
    model: Imported
    graph: nx.DiGraph
    post: dict

    def sequence(self, start: str, end: str | None, join: str | None = None) -> list:
        """The units that take start's output to end's output, or, in a branch, to the
        node whose only reader is `join`."""
        units, current = [], start
        while current != end:
            readers = list(self.graph.successors(current))
            if join is not None and readers == [join]:
                break
            if len(readers) == 1:
                node = self.model.nodes[readers[0]]
                if len(node.inputs) != 1:
                    raise NotStructured(node, "it joins a branch that does not start "
                                              "where its other inputs do")
                units.append(node)
                current = node.name
            else:
                compound = self.compound(current, readers)
                units.append(compound)
                current = compound.join.name
        return units

    def compound(self, fork: str, readers: list[str]) -> Compound:
        join = self.model.nodes.get(self.post.get(fork, ""))
        if join is None:  # a branch that never reaches the output, or no layer joins them
            raise NotStructured(self.model.nodes[fork], "its branches do not meet again "
                                                        "before the output")
        ends = {}
        for reader in readers:
            if reader == join.name:
                ends[fork] = []
                continue
            node = self.model.nodes[reader]
            if len(node.inputs) != 1:
                raise NotStructured(node, "it joins a branch that does not start where "
                                          "its other inputs do")
            branch = [node] + self.sequence(reader, None, join.name)
            last = branch[-1]
            ends[last.name if isinstance(last, Node) else last.join.name] = branch
        if sorted(ends) != sorted(join.inputs):
            raise NotStructured(join, f"its inputs are not the branches that start at "
                                      f"'{fork}'")
        branches = [ends[source] for source in join.inputs]
        return Compound(self.compound_type(join, branches), branches, join)

    def compound_type(self, join: Node, branches: list[list]) -> str:
        spec = join.spec
        if spec.concatenates:
            return "concat"
        if spec.scales:
            if branches[0]:
                raise NotStructured(join, "a gate multiplies its own input by its body's "
                                          "values; here both factors are computed")
            return "gate"
        if len(branches) != 2:
            raise NotStructured(join, f"an add of {len(branches)} branches; a residual "
                                      f"unit adds two")
        return "residual"


def fold_padding(nodes: dict, unsupported: list, padded_by: dict, kept: tuple) -> None:
    """A padding layer read by nothing but a 'valid' conv or pool becomes its padding:
    explicit where it is even, 'same' where it is what 'same' pads (MobileNetV2's
    correct_pad). `padded_by` says, by the padding's op, which kinds it may fold into:
    zeros into convs and average pools, −∞ into max pools (a max pool after zeros keeps
    its zeropad, which is not the same). A padding that folds nowhere is reported unless
    its op is `kept` (zeros) and it is even: then it is a zeropad layer."""
    readers = {}
    for node in nodes.values():
        for i in node.inputs:
            readers.setdefault(i, []).append(node)
    for pad in [n for n in nodes.values() if n.op in padded_by]:
        users = readers.get(pad.name, [])
        if len(users) == 1 and users[0].kind in padded_by[pad.op] and \
                users[0].attrs["padding"] == "valid":
            padding = padded(pad, nodes[pad.inputs[0]].shape, users[0].attrs)
            if padding is not None:
                users[0].attrs.update(padding=padding, rounding="exact" if padding == "same"
                                      else users[0].attrs["rounding"])
                users[0].inputs = pad.inputs
                del nodes[pad.name]
                continue
        if pad.attrs.get("size") is None or pad.op not in kept:
            unsupported.append(Unsupported(pad.name, pad.op, "padding that is uneven or not "
                                                             "zero, not a conv's 'same'"))
            pad.kind, pad.attrs = IDENTITY, {}


def padded(pad: Node, shape, layer: dict):
    """The layer's padding that adds what `pad` adds, or None."""
    kernel = layer.get("kernel") or layer["size"]
    added = [pad.shape[0] - shape[0], pad.shape[1] - shape[1]]
    if pad.attrs["size"] is not None:
        return pad.attrs["size"]
    if added == [same_padding(n, k, s) for n, k, s in zip(shape[:2], kernel, layer["stride"])]:
        return "same"
    return None
