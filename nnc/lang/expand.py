"""Syntax tree to graph: expand blocks, repeats and compounds into primitive layers.

Each layer is added to a networkx DiGraph the moment it is known, and its shape,
parameters and costs are inferred right then from the registry, because later
decisions depend on them (a residual's shortcut is identity or a projection depending on
whether the body changed the shape). Every node keeps the position that produced it and
its chain of block expansions. Names follow the source: `conv4_x.3.conv2` is the second
conv of the third block call in row conv4_x.
"""
from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from dataclasses import dataclass

import networkx as nx

from nnc.errors import (
    ArchLimitError,
    ArchNameError,
    ArchSyntaxError,
    ArchValueError,
    Coord,
    Frame,
    NncError,
    closest,
    did_you_mean,
)
from nnc.ir.kinds import KINDS, Kind, is_minor
from nnc.ir.kinds.joins import Input
from nnc.ir.network import Layer, Network, Row
from nnc.lang import ast
from nnc.lang.bind import COMPOUNDS, Scope, replace_position
from nnc.lang.compounds import FROM, Compounds

SIZE_SUFFIX = re.compile(r"([A-Za-z_]+?)(\d+(?:x\d+)?)")


@dataclass(frozen=True)
class Limits:
    """Bounds against typos and hostile input; each is a positioned error when crossed."""
    max_repeat: int = 1_000_000
    max_layers: int = 2_000_000
    max_params: int = 2_000_000_000
    max_call_depth: int = 100


def expand(program: ast.Program, source: str, limits: Limits = Limits()) -> Network:
    return Expander(program, limits).run(source)


class Expander(Compounds):
    def __init__(self, program: ast.Program, limits: Limits):
        self.program = program
        self.limits = limits
        self.blocks = unique_blocks(program.blocks)
        self.graph = nx.DiGraph()
        self.layers: dict[str, Layer] = {}
        self.resolved: dict[tuple, tuple[Kind, dict]] = {}  # see expand_unit
        self.counters: dict[tuple, int] = defaultdict(int)
        self.created: list[str] = []
        self.rows: list[Row] = []
        self.row_outputs: dict[str, str] = {}
        self.total_params = 0
        self.least: dict[str, int] = {}  # block name -> least_layers of one call
        self.constants = self.network_parameters(program.params)
        self.defaults = self.collect_defaults(program.defaults, self.constants)
        self.drop_units = 0  # residual units with a drop_path (see Compounds.residual)
        self.drop_paths: list[tuple[str, int]] = []

    # --- the network -----------------------------------------------------------
    def run(self, source: str) -> Network:
        p = self.program
        if not p.rows and p.input is None and p.network is None:
            raise ArchSyntaxError("the file is empty: an .arch file needs at least an "
                                  "input line and a layer", Coord(p.file, 1, 1))
        if p.input is None:
            where = p.rows[0].coord if p.rows else Coord(p.file, 1, 1)
            raise ArchSyntaxError("the network has no input line, such as "
                                  "'input 224x224x3'", where)
        if not p.rows:
            raise ArchSyntaxError("the network has no layers", p.input_coord)
        x = first = self.add(KINDS[Input.name], {"shape": p.input}, [], Scope(), p.input_coord,
                             "input")
        for row in p.rows:
            x = self.top_row(row, x)
        self.schedule_drop_paths()
        name = p.network or p.file.rsplit("/", 1)[-1].removesuffix(".arch")
        read = names_read((p.rows, p.blocks, p.params, p.defaults))
        unused = tuple((q.name, q.coord) for q in p.params if q.name not in read)
        return Network(name, p.file, source, self.graph, self.layers, first, x, self.rows,
                       p.expects, unused)

    def top_row(self, row: ast.Row, x: str) -> str:
        if row.label in self.row_outputs:
            raise ArchNameError(f"duplicate row name '{row.label}'; rows name the lines "
                                f"of the paper's table and must be unique", row.coord)
        start = len(self.created)
        head = isinstance(row.body, ast.Compound) and row.body.keyword == "head"
        loss_weight = None
        if head:
            y, loss_weight = self.head(row, Scope((row.label,) if row.label else (),
                                                  self.constants))
        else:
            x, row = self.row_start(row, x, Scope(env=self.constants))
            y = self.expand_row(row, x, Scope(env=self.constants))
        nodes = self.created[start:]
        name = row.label or (nodes[0] if nodes else f"row{len(self.rows) + 1}")
        if name in self.row_outputs:  # an unlabelled row is named after its first layer
            raise ArchNameError(f"this row has no label, so it would be called '{name}', "
                                f"which names an earlier row; give it a label", row.coord)
        for node in nodes:
            self.layers[node].row = name
        self.rows.append(Row(name, row_type(row, self.blocks), row.coord, nodes, x, y, head,
                             loss_weight))
        self.row_outputs[name] = y
        return x if head else y

    def network_parameters(self, params) -> dict:
        """`network efficientnet(width=1.0, depth=1.0)`: constants that every row and
        block of the file sees, each default seeing the ones before it."""
        env: dict = {}
        for p in params:
            if p.default is None:
                raise ArchValueError(f"network parameter '{p.name}' needs a value, as in "
                                     f"network name({p.name}=1.0)", p.coord)
            env[p.name] = self.value(p.default, Scope(env=env))
        return env

    # --- rows, items, units ------------------------------------------------------
    def expand_row(self, row: ast.Row, x: str, scope: Scope) -> str:
        if row.label:
            scope = scope.child(row.label)
        if isinstance(row.body, ast.Sequence):
            for item in row.body.items:
                x = self.expand_item(item, x, scope)
            return x
        compound = row.body
        if compound.keyword == "residual":
            return self.residual(compound, x, scope)
        if compound.keyword == "concat":
            return self.concat(compound, x, scope)
        if compound.keyword == "gate":
            return self.gate(compound, x, scope)
        raise ArchSyntaxError("a head taps a row of the network, so it must be a row of "
                              "its own at the top level, not inside another construct",
                              compound.coord, scope.chain)

    def expand_item(self, item: ast.Item, x: str, scope: Scope) -> str:
        count = 1
        if item.repeat is not None:
            count = self.integer(item.repeat, scope, "a repeat count")
            if count > self.limits.max_repeat:
                raise ArchLimitError(f"repeat count {count:,} is over the limit of "
                                     f"{self.limits.max_repeat:,}. Received: x{count}",
                                     item.repeat.coord, scope.chain)
        self.check_size(len(self.created) + count * self.least_layers(item.unit),
                        item.coord, scope)
        for i in range(count):
            before = len(self.created)
            x = self.expand_unit(item.unit, x, scope)
            if i == 0:  # now the size of one repetition is known: refuse early
                self.check_size(len(self.created) + (count - 1) * (len(self.created) - before),
                                item.coord, scope)
        return x

    def expand_unit(self, unit: ast.Unit, x: str, scope: Scope) -> str:
        if unit.name in self.blocks:
            return self.call(unit, x, scope)
        if unit.name == "skip":
            return self.skip(unit, x, scope)
        if unit.name == FROM:
            raise self.misplaced_from(unit, scope)
        # A layer's kind and attributes depend only on the unit's text and the block
        # arguments in scope, and a deep network repeats a few units thousands of times:
        # resolve each (unit, arguments) pair once. repr tells 1, 1.0 and True apart.
        key = (id(unit), repr(scope.env))
        if key not in self.resolved:
            self.resolved[key] = self.resolve(unit, scope)
        kind, attrs = self.resolved[key]
        return self.add(kind, dict(attrs), [x], scope, unit.coord, unit.text)

    def resolve(self, unit: ast.Unit, scope: Scope) -> tuple[Kind, dict]:
        kind, size = self.kind_of(unit, scope)
        given = self.given_values(kind.name, kind.attrs, kind.positional, unit, size, scope)
        try:
            return kind, self.attrs_for(kind.name, kind.attrs, given)
        except NncError as e:
            raise replace_position(e, unit.coord, scope.chain) from None

    def least_layers(self, unit: ast.Unit) -> int:
        """A lower bound on the layers one expansion of `unit` adds, from the text alone
        (a repeat count that depends on a parameter counts as zero), so that a nest of
        huge repeats is refused before any of it is built."""
        block = self.blocks.get(unit.name)
        if block is None:
            return 1
        if block.name not in self.least:
            self.least[block.name] = 0  # a recursive call is refused when expanded
            self.least[block.name] = sum(map(self.least_in_row, block.body))
        return self.least[block.name]

    def least_in_row(self, row: ast.Row) -> int:
        if isinstance(row.body, ast.Compound):
            return sum(map(self.least_in_row, row.body.body))
        return sum((item.repeat.value if isinstance(item.repeat, ast.Num) else
                    0 if item.repeat else 1) * self.least_layers(item.unit)
                   for item in row.body.items)

    def kind_of(self, unit: ast.Unit, scope: Scope) -> tuple[Kind, object]:
        kind = KINDS.get(unit.name)
        if kind and not kind.internal:
            return kind, None
        m = SIZE_SUFFIX.fullmatch(unit.name)
        base = m.group(1) if m else unit.name
        kind = KINDS.get(base)
        if kind and not kind.internal and kind.short[0]:
            sizes = tuple(int(s) for s in m.group(2).split("x"))
            return kind, sizes[0] if len(sizes) == 1 else sizes
        if kind and not kind.internal:
            raise ArchSyntaxError(f"'{base}' takes no size suffix. Received: {unit.name}",
                                  unit.coord, scope.chain)
        known = [k for k, v in KINDS.items() if not v.internal] + list(self.blocks)
        close = closest(base, known) or closest(unit.name, known)
        raise ArchNameError(f"unknown layer kind or block '{unit.name}'"
                            + (f"; did you mean '{close}'?" if close else ""),
                            unit.coord, scope.chain)

    # --- blocks --------------------------------------------------------------------
    def call(self, unit: ast.Unit, x: str, scope: Scope) -> str:
        block = self.blocks[unit.name]
        if unit.width or unit.stride:
            raise ArchSyntaxError(f"a block call takes its arguments in parentheses, as in "
                                  f"{block.name}(64). Received: {unit.text}",
                                  unit.coord, scope.chain)
        if block.name in scope.blocks:
            cycle = " → ".join(scope.blocks[scope.blocks.index(block.name):] + (block.name,))
            raise ArchLimitError(f"block '{block.name}' calls itself ({cycle}); blocks "
                                 f"cannot recurse", unit.coord, scope.chain)
        if len(scope.blocks) >= self.limits.max_call_depth:
            raise ArchLimitError(f"block calls nest deeper than {self.limits.max_call_depth}",
                                 unit.coord, scope.chain)
        env = self.bind_arguments(block, unit, scope)
        self.counters[(scope.path, "#call")] += 1
        frame = Frame(unit.text, unit.coord, block.coord)
        path = scope.path + (str(self.counters[(scope.path, "#call")]),)
        inner = Scope(path, env, scope.chain + (frame,), scope.blocks + (block.name,),
                      scope.calls + (".".join(path),), scope.shortcut)
        for row in block.body:
            x = self.expand_row(row, x, inner)
        return x

    def bind_arguments(self, block: ast.Block, unit: ast.Unit, scope: Scope) -> dict:
        params = {p.name: p for p in block.params}
        given = {}
        for i, option in enumerate(unit.options):
            if option.name is None and i >= len(block.params):
                raise ArchValueError(f"{block.name}() takes {len(block.params)} argument(s). "
                                     f"Received: {unit.text}", option.coord, scope.chain)
            name = option.name or block.params[i].name
            if name not in params:
                raise ArchNameError(f"{block.name}() has no parameter '{name}'"
                                    f"{did_you_mean(name, params)}", option.coord, scope.chain)
            if name in given:
                raise ArchValueError(f"{block.name}() got '{name}' twice. Received: "
                                     f"{unit.text}", option.coord, scope.chain)
            given[name] = self.value(option.value, scope)
        env = dict(self.constants)  # a block parameter hides a network parameter
        for p in block.params:
            if p.name in given:
                env[p.name] = given[p.name]
            elif p.default is not None:
                env[p.name] = self.value(p.default, Scope(env=env, chain=scope.chain))
            else:
                raise ArchValueError(f"{block.name}() is missing its argument '{p.name}'. "
                                     f"Received: {unit.text}", unit.coord, scope.chain)
        return env

    # --- nodes ---------------------------------------------------------------------
    def shape(self, node: str) -> tuple[int, ...]:
        return self.layers[node].shape

    def add(self, kind: Kind, attrs: dict, inputs: list[str], scope: Scope, coord: Coord,
            text: str) -> str:
        """Add one primitive layer, inferring its shape and costs from the registry."""
        counter = (scope.path, kind.name)
        self.counters[counter] += 1
        # relu6's first is relu6_1: a counter run into a name's own digits would misread
        separator = "_" if kind.name[-1].isdigit() else ""
        name = ".".join((*scope.path, f"{kind.name}{separator}{self.counters[counter]}"))
        in_shapes = [self.layers[i].shape for i in inputs]
        try:
            attrs = kind.resolve(attrs, in_shapes)
            shape = kind.shape(attrs, in_shapes)
            params = kind.params(attrs, in_shapes, shape)
        except NncError as e:
            raise type(e)(f"{text}: {e.message}", e.coord or coord,
                          e.chain or scope.chain) from None
        self.check_limits(params, coord, scope)
        self.layers[name] = Layer(
            name, kind, attrs, tuple(inputs), shape, params, kind.macs(attrs, in_shapes, shape),
            kind.connections(attrs, in_shapes, shape), coord, scope.chain, scope.calls,
            shortcut=scope.shortcut)
        self.graph.add_node(name)
        for i in inputs:
            self.graph.add_edge(i, name)
        self.created.append(name)
        return name

    def check_limits(self, params, coord, scope):
        self.total_params += sum(params)
        if self.total_params > self.limits.max_params:
            raise ArchLimitError(f"the network has more than {self.limits.max_params:,} "
                                 f"parameters (a typo such as fc-4096000?); raise the bound "
                                 f"with --max-params if this is meant. Received: "
                                 f"{self.total_params:,} so far", coord, scope.chain)
        self.check_size(len(self.created) + 1, coord, scope)

    def check_size(self, layers: int, coord, scope):
        if layers > self.limits.max_layers:
            raise ArchLimitError(f"the network would expand to more than "
                                 f"{self.limits.max_layers:,} layers. Received: at least "
                                 f"{layers:,} layers", coord, scope.chain)


def names_read(tree) -> set[str]:
    """Every name that an expression in `tree` (syntax-tree nodes, in tuples) reads."""
    if isinstance(tree, ast.Name):
        return {tree.id}
    if isinstance(tree, tuple):
        return set().union(*map(names_read, tree)) if tree else set()
    if dataclasses.is_dataclass(tree):
        return names_read(tuple(getattr(tree, f.name) for f in dataclasses.fields(tree)))
    return set()


def unique_blocks(blocks) -> dict[str, ast.Block]:
    found = {}
    for block in blocks:
        if block.name in found:
            raise ArchNameError(f"block '{block.name}' is defined twice (first at line "
                                f"{found[block.name].coord.line})", block.coord)
        if block.name in KINDS or block.name in COMPOUNDS:  # compounds and skip
            raise ArchNameError(f"block name '{block.name}' is a layer kind; choose "
                                f"another name", block.coord)
        found[block.name] = block
    return found


def row_type(row: ast.Row, blocks) -> str:
    """The row's 'type' column: the compound, or the main layer kinds and blocks."""
    if isinstance(row.body, ast.Compound):
        return row.body.keyword
    names = []
    for item in row.body.items:
        name = item.unit.name
        if name == FROM:
            continue  # where the row starts, not a layer of it
        if name not in blocks:
            m = SIZE_SUFFIX.fullmatch(name)
            name = name if name in KINDS or not m else m.group(1)
        if name not in names:
            names.append(name)
    major = [n for n in names if not is_minor(n)] or names
    return ", ".join(major)
