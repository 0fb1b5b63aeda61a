"""A model read from another format (a Keras model, an ONNX graph), in a form no backend
owns: nodes of nnc kinds with nnc attributes, and what could not be read. The readers
(nnc/backends/*/raise_.py, the inverses of the lowering tables) fill it; this module
recovers the structure the language writes (residual units, concats, gates) from its
edges, and nnc/present/fold.py writes it as .arch text.

Structure recovery is series-parallel decomposition: from a node whose output several
layers read, the branches run to the node where they all meet again (its immediate
post-dominator), which must join exactly those branches (an add, a concat or a
multiply). A graph that is not built this way (a branch that leaves and joins
elsewhere) has no .arch form and is reported, never approximated. A residual unit is
written so that nnc builds its shortcut as the model has it (residual_options).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

from nnc.ir.kinds import KINDS
from nnc.ir.kinds.base import BIAS_AND_ACTIVATION, same_padding
from nnc.ir.kinds.core import BatchNorm, Conv
from nnc.ir.kinds.joins import PadShortcut


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


@dataclass
class Head:
    """A side head: the units from the main path's node `tap` to an extra output."""
    tap: str
    units: list


def structure(model: Imported) -> tuple[list, list[Head]]:
    """The model's units (Nodes and Compounds) from its input to its first output, and
    a side head for every other output (GoogLeNet's auxiliary classifiers)."""
    graph = nx.DiGraph()
    for node in model.nodes.values():
        graph.add_node(node.name)
        graph.add_edges_from((i, node.name) for i in node.inputs)
    main = nx.ancestors(graph, model.outputs[0]) | {model.outputs[0]}
    heads = [side_head(model, graph, main, output) for output in model.outputs[1:]]
    trunk = graph.subgraph(main)
    post = nx.immediate_dominators(trunk.reverse(copy=False), model.outputs[0])
    return Decomposer(model, trunk, post).sequence(model.input, model.outputs[0]), heads


def side_head(model: Imported, graph, main: set, output: str) -> Head:
    own = (nx.ancestors(graph, output) | {output}) - main
    taps = {i for name in own for i in model.nodes[name].inputs} - own
    if len(taps) != 1:
        raise NotStructured(model.nodes[output], "a side output that reads the main path "
                                                 "at more than one place")
    (tap,) = taps
    branch = graph.subgraph(own | {tap})
    post = nx.immediate_dominators(branch.reverse(copy=False), output)
    return Head(tap, Decomposer(model, branch, post).sequence(tap, output))


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


# --- residual units as nnc builds them --------------------------------------------------

NONLINEARITY = BIAS_AND_ACTIVATION[1]  # a projection shortcut has none
RESIDUAL = "residual"  # the compound, whose default lines name it as a kind's do


def nodes_of(units) -> list[Node]:
    found = []
    for unit in units:
        if isinstance(unit, Compound):
            for branch in unit.branches:
                found += nodes_of(branch)
            found.append(unit.join)
        else:
            found.append(unit)
    return found


def defaults_of(units) -> dict[str, dict]:
    """Per kind, the options every layer of it agrees on and the kind's own default does
    not give: `default conv(bias=false)`. Written positions (size, width, stride) stay on
    the layers."""
    values: dict[str, dict[str, Counter]] = {}
    written = [node for node in nodes_of(units) if not node.spec.internal]
    for node in written:
        for attr in node.spec.attrs:
            if attr.name in node.spec.short or attr.name in node.spec.positional:
                continue
            value = node.attrs.get(attr.name, attr.default)
            values.setdefault(node.kind, {}).setdefault(attr.name, Counter())[repr(value)] += 1
    found = {}
    for node in written:
        for attr in node.spec.attrs:
            seen = values.get(node.kind, {}).get(attr.name)
            value = node.attrs.get(attr.name, attr.default)
            if seen and len(seen) == 1 and sum(seen.values()) > 1 and value != attr.default \
                    and value is not None:
                found.setdefault(node.kind, {})[attr.name] = value
    return found


def residual_options(compound: Compound, model: Imported, defaults: dict) -> tuple[list, str]:
    """The body of a residual unit and the options that make nnc build its shortcut as
    the model does: '' (B: identity, or a projection where the shape changes), 'C', and
    projection_bn where BN differs from the body's."""
    a, b = compound.branches
    body, shortcut = (a, b) if is_projection(b) or zero_padding(b) or not b else (b, a)
    if zero_padding(shortcut):
        return body, "" if defaults.get(RESIDUAL, {}).get("shortcut") == "A" else "shortcut=A"
    if shortcut and not is_projection(shortcut):
        raise NotStructured(compound.join, "a shortcut that is neither the identity nor a "
                                           "1×1 projection (and BN)")
    fork = model.nodes[first_input(compound, model)]
    changes = fork.shape != compound.join.shape
    if not shortcut:
        return body, ""
    options = [] if changes else ["shortcut=C"]
    conv_defaults = {**{a.name: a.default for a in KINDS[Conv.name].attrs},
                     **defaults.get(Conv.name, {})}
    if shortcut[0].attrs.get("bias", True) != conv_defaults["bias"]:
        raise NotStructured(shortcut[0], "a projection whose bias differs from the other "
                                         "convs'")
    body_norm = any(n.spec.normalization for n in nodes_of(body))
    has_norm = len(shortcut) == 2
    if has_norm:
        norm_defaults = {**{a.name: a.default for a in KINDS[BatchNorm.name].attrs},
                         **defaults.get(BatchNorm.name, {})}
        if any(shortcut[1].attrs.get(k, v) != v for k, v in norm_defaults.items()):
            raise NotStructured(shortcut[1], "a projection's BN whose options differ from "
                                             "the other BNs'")
    if has_norm != body_norm:
        options.append(f"projection_bn={'true' if has_norm else 'false'}")
    return body, ", ".join(options)


def residual_defaults(units) -> dict:
    """`default residual(shortcut=A)` where every shortcut that is not the identity is
    option A's (the CIFAR ResNets): then no residual needs to say it."""
    shortcuts = [branch for c in compounds_of(units) if c.type == RESIDUAL
                 for branch in c.branches if zero_padding(branch) or is_projection(branch)]
    if shortcuts and all(zero_padding(branch) for branch in shortcuts):
        return {RESIDUAL: {"shortcut": "A"}}
    return {}


def compounds_of(units) -> list[Compound]:
    found = []
    for unit in units:
        if isinstance(unit, Compound):
            found.append(unit)
            for branch in unit.branches:
                found += compounds_of(branch)
    return found


def first_input(compound: Compound, model: Imported) -> str:
    branch = compound.branches[0] or compound.branches[1]
    if not branch:
        return compound.join.inputs[0]
    first = branch[0]
    return (first.inputs[0] if isinstance(first, Node) else first_input(first, model))


def zero_padding(branch) -> bool:
    """Option A's shortcut: subsampling and zero channels, no weights."""
    return len(branch) == 1 and isinstance(branch[0], Node) and \
        branch[0].kind == PadShortcut.name


def is_projection(branch) -> bool:
    if not branch or len(branch) > 2 or not all(isinstance(n, Node) for n in branch):
        return False
    conv = branch[0]
    if conv.kind != Conv.name or conv.attrs["kernel"] != (1, 1) or \
            conv.attrs.get("groups", 1) != 1 or \
            conv.attrs.get(NONLINEARITY.name, NONLINEARITY.default) != NONLINEARITY.default:
        return False
    return len(branch) == 1 or branch[1].kind == BatchNorm.name



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
