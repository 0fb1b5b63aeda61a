"""An imported model written as .arch text a reader recognises: rows named after the
model's own stages, repeated sub-graphs folded into parametrised blocks with repeats,
and `default` lines for what every layer of a kind agrees on.

How it folds (docs/importing.md says it for users):
- rows: a layer's name gives its stage and block (`conv2_block1_1_conv`: stage conv2,
  block 1; `layer1.0.conv1`: stage layer1, block 0; `conv2_x.1.conv1`, nnc's own names:
  row conv2_x, call 1). Consecutive units of one stage are a row; a row of nothing but
  minor layers (bn, relu, padding) joins the row before it.
- blocks: the units of one block id that hold a residual unit, concat or gate are one
  block call. Calls whose structure is the same (the same kinds, compounds and
  non-numeric options) are one block; where their numbers differ, a parameter takes
  them (anti-unification): widths become `w`, `w2`…, strides `s`, others `p1`…, and a
  number that is a whole multiple of a parameter in every call is written `{k*w}`.
- repeats: consecutive calls with the same arguments are one call `x n`.
It cannot see a block the model's names do not mark, nor a repeat of plain layers
(VGG's conv3-64 x2 stays two units).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from nnc.errors import NncError
from nnc.ir.attrs import Expression, written
from nnc.ir.kinds import KINDS
from nnc.present.imported import (
    IDENTITY,
    RESIDUAL,
    Compound,
    Imported,
    Node,
    NotStructured,
    Unsupported,
    defaults_of,
    first_input,
    nodes_of,
    residual_defaults,
    residual_options,
    structure,
)

RESERVED = {"network", "input", "default", "block", "expect", "use", "skip", "from",
            "residual", "concat", "head", "gate"}
INDENT = "    "


def stage_and_block(name: str) -> tuple[str, str | None]:
    """The stage and block a layer's name gives (see the module's docstring)."""
    name = name.strip("/").replace("/", ".")
    if "." in name:
        parts = name.split(".")
        return parts[0], parts[1] if parts[1].isdigit() else None
    tokens = name.split("_")
    stage = tokens[0]
    rest = tokens[1:]
    if rest and rest[0].isdigit():
        stage, rest = f"{stage}_{rest[0]}", rest[1:]
    if len(rest) > 1 and re.fullmatch(r"block\d+[a-z]?|\d+", rest[0]):
        return stage, rest[0]
    return stage, None


def label(text: str, taken: set) -> str:
    """A row label from a stage name: a valid name, not a reserved word, not taken."""
    text = re.sub(r"\W", "_", text) or "row"
    text = text if re.match(r"[A-Za-z_]", text) else f"r{text}"
    text = f"{text}_" if text in RESERVED else text
    base, n = text, 2
    while text in taken:
        text, n = f"{base}_{n}", n + 1
    taken.add(text)
    return text


def first_name(unit) -> str:
    return unit.name if isinstance(unit, (Node, Skip)) else (nodes_of(unit.branches[0]) or
                                                     [unit.join])[0].name


@dataclass
class Skip:
    """A join of an earlier row's output with the current maps, across rows (U-Net's
    copy and crop, a feature pyramid's lateral add): `skip(row)`."""
    compound: Compound
    fork: str
    options: str

    @property
    def name(self) -> str:
        return self.compound.join.name


def flatten_skips(units, model: Imported) -> list:
    """Top-level joins whose long branch runs across rows, written as that branch's
    units in the rows, then a skip."""
    flat = []
    for unit in units:
        long = skip_branch(unit)
        if long is None:
            flat.append(unit)
            continue
        short = unit.branches[1] if long is unit.branches[0] else unit.branches[0]
        options = ", crop=true" if short else ""
        options += ", join=add" if unit.type == RESIDUAL else ""
        flat += flatten_skips(long, model)
        flat.append(Skip(unit, first_input(unit, model), options))
    return flat


def skip_branch(unit):
    """The long branch of a join that a skip writes, or None: two branches, one of them
    nothing or a crop (the earlier row's maps, first in a concat), the other across
    more than one stage of the model's names."""
    if not isinstance(unit, Compound) or len(unit.branches) != 2 or not (
            unit.type == RESIDUAL or unit.join.spec.concatenates):
        return None
    first, second = unit.branches
    short_first = len(first) <= 1 and all(isinstance(n, Node) and n.spec.internal
                                          for n in first)
    short_second = unit.type == RESIDUAL and len(second) <= 1 and \
        all(isinstance(n, Node) and n.spec.internal for n in second)
    long = second if short_first else first if short_second else None
    if long is None or len({stage_and_block(n.name)[0] for n in nodes_of(long)}) < 2:
        return None
    return long


def last_node(item) -> str:
    """The name of the layer that gives a row item's output."""
    unit = item.units[-1] if isinstance(item, Call) else item
    return unit.name


def is_minor(unit) -> bool:
    return isinstance(unit, Node) and unit.spec.minor


@dataclass
class Row:
    label: str
    items: list  # Nodes and Calls; for a head row, the head's units
    head: str | None = None  # a side head: the label of the row it taps


@dataclass
class Call:
    """A group of units written as one block call."""
    units: list
    block: "Block | None" = None
    args: tuple = ()
    repeat: int = 1


def rows_of(units) -> list[Row]:
    """Top-level units grouped by stage; each block id's units that hold a compound
    become a Call; minor-only rows join the row before."""
    stages: list[tuple[str, list]] = []
    for unit in units:
        stage, block = stage_and_block(unit.name if isinstance(unit, Compound)
                                       else first_name(unit))
        if not stages or stages[-1][0] != stage:
            stages.append((stage, []))
        stages[-1][1].append((block, unit))
    merged: list[tuple[str, list]] = []
    for stage, members in stages:
        if merged and all(is_minor(u) for _, u in members):
            merged[-1][1].extend(members)
        else:
            merged.append((stage, members))
    taken: set = set()
    return [Row(label(members[0][1].name if len(members) == 1 and "." not in
                      members[0][1].name and isinstance(members[0][1], Node) else stage, taken),
                group_calls(members)) for stage, members in merged]


def group_calls(members) -> list:
    items, run = [], []

    def flush():
        if any(isinstance(u, Compound) for u in run):
            items.append(Call(list(run)))
        else:
            items.extend(run)
        run.clear()
    last = object()
    for block, unit in members:
        if block is None or block != last:
            flush()
        if block is None:
            items.append(Call([unit]) if isinstance(unit, Compound) else unit)
        else:
            run.append(unit)
        last = block
    flush()
    return items


# --- blocks: anti-unification of the calls ----------------------------------------------

LEAF_TYPES = ("int", "count", "pair")
BLOCK_NAMES = {"residual": "resunit", "concat": "joinunit", "gate": "scaleunit"}
PARAM_NAMES = {"filters": "w", "units": "w", "features": "w", "stride": "s", "kernel": "k",
               "size": "k"}


def leaves(node: Node) -> list[tuple[str, int]]:
    """The numbers of a layer that calls of one block may differ in: (attribute, value)."""
    found = []
    for attr in node.spec.attrs:
        value = node.attrs.get(attr.name, attr.default)
        if attr.type in LEAF_TYPES and isinstance(value, tuple) and len(value) == 2 and \
                value[0] == value[1] and isinstance(value[0], int):
            found.append((attr.name, value[0]))
        elif attr.type in LEAF_TYPES and isinstance(value, int) and \
                not isinstance(value, bool):
            found.append((attr.name, value))
    return found


@dataclass
class Block:
    name: str
    units: list            # the first call's units, written with `values`
    params: list           # (name, default or None)
    values: dict           # (node index, attribute) -> Expression, where calls differ


class Writer:
    """The .arch text of an imported model (see the module's docstring)."""

    def __init__(self, model: Imported, units: list, heads: list = ()):
        self.model, self.units, self.heads = model, units, heads
        self.defaults = {**defaults_of(units), **residual_defaults(units)}
        self.blocks: list[Block] = []
        self.branch_blocks: dict[tuple, str] = {}  # (body lines, params) -> block name
        self.in_scope: list[str] = []   # the parameters of the block being written
        self.sketching = False          # writing a skeleton: no branch blocks made
        self.row_ends: dict[str, str] = {}  # the layer that ends a row -> the row's label

    def text(self, source: str, notes: list[str] = ()) -> str:
        rows = self.with_heads(rows_of(flatten_skips(self.units, self.model)))
        self.row_ends = {last_node(row.items[-1]): row.label for row in rows
                         if row.head is None}
        calls = [item for row in rows for item in row.items
                 if isinstance(item, Call) and row.head is None]
        self.fold(calls)
        lines = [f"# imported from {source} by nnc import", *(f"# {n}" for n in notes),
                 f"network {label(self.model.name, set())}",
                 f"input {'x'.join(str(d) for d in self.model.nodes[self.model.input].shape)}"]
        lines += [f"default {kind}({', '.join(f'{k}={written(v)}' for k, v in opts.items())})"
                  for kind, opts in self.defaults.items()]
        for block in self.blocks:
            params = ", ".join(p if d is None else f"{p}={d}" for p, d in block.params)
            self.in_scope = [p for p, _ in block.params]
            lines += ["", f"block {block.name}({params}):",
                      *(INDENT + line for line in self.lines(block.units, block.values))]
        for (body, params), name in self.branch_blocks.items():
            lines += ["", f"block {name}({', '.join(params)}):",
                      *(INDENT + line for line in body)]
        lines.append("")
        width = max(len(row.label) for row in rows) + 2
        for row in rows:
            if row.head is not None:
                lines += [f"{row.label}: head({row.head}):",
                          *(" " * width + line for line in self.lines(row.items, {}))]
                continue
            items = ", ".join(self.item_text(item) for item in merge_repeats(row.items))
            lines.append(f"{row.label + ':':<{width}}{items}")
        return "\n".join(lines) + "\n"

    def with_heads(self, rows: list[Row]) -> list[Row]:
        """Each side head as a head row after the row whose output it taps."""
        taken = {row.label for row in rows}
        for head in self.heads:
            at = next((i for i, row in enumerate(rows) if row.head is None and
                       last_node(row.items[-1]) == head.tap), None)
            if at is None:
                raise NotStructured(self.model.nodes[head.tap], "a side head taps it, inside "
                                                                "a row")
            name = label(stage_and_block(first_name(head.units[0]))[0], taken)
            rows.insert(at + 1, Row(name, head.units, rows[at].label))
        return rows

    def fold(self, calls: list[Call]) -> None:
        """Calls of one structure share a block; their differing numbers are its
        parameters."""
        groups: dict[str, list[Call]] = {}
        for call in calls:
            groups.setdefault(self.skeleton(call.units), []).append(call)
        kinds = Counter()
        for members in groups.values():
            first = members[0].units
            kind = next(u.type for u in first if isinstance(u, Compound))
            kinds[kind] += 1
            name = BLOCK_NAMES[kind] + (str(kinds[kind]) if kinds[kind] > 1 else "")
            self.anti_unify(name, members)

    def skeleton(self, units) -> str:
        marked = {key: Expression("#") for key, _ in self.numbered(units)}
        self.sketching = True
        try:
            return "\n".join(self.lines(units, marked))
        finally:
            self.sketching = False

    def written(self, units) -> list[Node]:
        """The layers the text writes, in order: not the joins, nor the projection
        shortcuts that the residual builds itself."""
        found = []
        for unit in units:
            if isinstance(unit, Node):
                found.append(unit)
            elif unit.type == RESIDUAL:
                found += self.written(residual_options(unit, self.model, self.defaults)[0])
            else:
                for branch in unit.branches:
                    found += self.written(branch)
        return found

    def numbered(self, units):
        """((node index, attribute), value) of every leaf, in writing order."""
        return [((i, name), value) for i, node in enumerate(self.written(units))
                for name, value in leaves(node)]

    def anti_unify(self, name: str, members: list[Call]) -> None:
        columns = list(zip(*(self.numbered(call.units) for call in members)))
        params, values, vectors = [], {}, {}
        for column in columns:
            key, vector = column[0][0], tuple(value for _, value in column)
            if len(set(vector)) == 1:
                continue
            if vector in vectors:
                values[key] = Expression(vectors[vector])
                continue
            multiple = next((f"{v[0] // base[0]}*{p}" for base, p in vectors.items()
                             if all(b and v % b == 0 for v, b in zip(vector, base)) and
                             len({v // b for v, b in zip(vector, base)}) == 1
                             for v in [vector]), None)
            if multiple:
                values[key] = Expression(multiple)
                continue
            stem = PARAM_NAMES.get(key[1], "p")
            count = sum(1 for p, _ in params if re.fullmatch(rf"{stem}\d*", p))
            param = stem if count == 0 and stem != "p" else f"{stem}{count + 1}"
            default = 1 if stem == "s" and 1 in vector else None
            params.append((param, default))
            vectors[vector] = param
            values[key] = Expression(param)
        ordered = [p for p in params if p[1] is None] + [p for p in params if p[1] is not None]
        block = Block(name, members[0].units, ordered, values)
        self.blocks.append(block)
        for call in members:
            actual = {key: value for key, value in self.numbered(call.units)}
            by_param = {}
            for key, expr in values.items():
                if expr in dict(params):
                    by_param[str(expr)] = actual[key]
            call.block = block
            call.args = tuple((p, by_param[p]) for p, d in ordered
                              if by_param[p] != d or d is None)

    def item_text(self, item) -> str:
        if isinstance(item, Node):
            return self.node_text(item)
        if isinstance(item, Skip):
            if item.fork not in self.row_ends:
                raise NotStructured(self.model.nodes[item.fork], "a later row joins its "
                                                                 "output, inside a row")
            return f"skip({self.row_ends[item.fork]}{item.options})"
        args = ", ".join(str(v) if d is None else f"{p}={v}"
                         for (p, v), d in ((a, dict(item.block.params)[a[0]])
                                           for a in item.args))
        return f"{item.block.name}({args})" + (f" x{item.repeat}" if item.repeat > 1 else "")

    def node_text(self, node: Node, values: dict | None = None, index: int = -1) -> str:
        attrs = dict(node.attrs)
        for (i, attr), expr in (values or {}).items():
            if i == index:
                attrs[attr] = expr
        return node.spec.arch_text(attrs, self.defaults.get(node.kind))

    def lines(self, units, values: dict) -> list[str]:
        """The rows of a block body (or compound body): layers joined on one line, each
        compound a header and its indented body."""
        index = {id(n): i for i, n in enumerate(self.written(units))}
        out, run = [], []
        for unit in units:
            if isinstance(unit, Node):
                run.append(self.node_text(unit, values, index[id(unit)]))
                continue
            if run:
                out.append(", ".join(run))
                run = []
            out += self.compound_lines(unit, values, index)
        if run:
            out.append(", ".join(run))
        return out

    def compound_lines(self, compound: Compound, values: dict, index: dict) -> list[str]:
        def sub(units):  # the units' lines with this call's numbering
            local = {(i, a): e for (g, a), e in values.items()
                     for i, n in enumerate(self.written(units)) if index[id(n)] == g}
            return self.lines(units, local)
        if compound.type == RESIDUAL:
            body, options = residual_options(compound, self.model, self.defaults)
            head = f"residual({options}):" if options else "residual:"
            return [head, *(INDENT + line for line in sub(body))]
        if compound.type == "gate":
            return ["gate:", *(INDENT + line for line in sub(compound.branches[1]))]
        branches = []
        for branch in compound.branches:
            lines = sub(branch) if branch else [KINDS[IDENTITY].arch_text({})]
            branches.append(INDENT + (lines[0] if len(lines) == 1 else self.branch_call(lines)))
        return ["concat:", *branches]

    def branch_call(self, lines: list[str]) -> str:
        """A concat branch of several rows (a conv, then a concat of its own:
        Inception-v3's Figure 7) as a call of a block of those rows, which takes the
        parameters of the block around it that the rows use."""
        if self.sketching:
            return "(" + "; ".join(lines) + ")"
        text = "\n".join(lines)
        params = tuple(p for p in self.in_scope if re.search(rf"\b{p}\b", text))
        key = (tuple(lines), params)
        if key not in self.branch_blocks:
            self.branch_blocks[key] = f"branch{len(self.branch_blocks) + 1}"
        return f"{self.branch_blocks[key]}({', '.join(params)})"


def merge_repeats(items: list) -> list:
    merged = []
    for item in items:
        last = merged[-1] if merged else None
        if isinstance(item, Call) and isinstance(last, Call) and \
                (last.block, last.args) == (item.block, item.args):
            last.repeat += item.repeat
        else:
            merged.append(item)
    return merged


# --- the whole import -------------------------------------------------------------------

class NotExpressible(NncError):
    """The model uses what the language lacks: the positioned list, one line a node."""
    what = "import"


def write_arch(model: Imported, source: str, partial: bool = False) -> str:
    """The .arch text of the model, checked: it compiles, and where nothing was left out
    its parameters are the source's own count. Without `partial`, any node the language
    cannot express is an error listing every one; with it, those nodes are written as
    `identity` and listed in comments at the top."""
    problems = list(model.unsupported)
    try:
        units, heads = structure(model)
        text = Writer(model, units, heads).text(source, [p.line(source) for p in problems])
    except NotStructured as e:
        problems.append(Unsupported(e.node.name, e.node.op, str(e)))
        text = None
    if problems and (not partial or text is None):
        lines = "\n".join(p.line(source) for p in problems)
        raise NotExpressible(f"{len(problems)} node(s) of {source} have no .arch form"
                             f"{'' if text else ' (--partial cannot write around them)'}"
                             f":\n{lines}")
    from nnc.analysis.compiled import compile_text
    compiled = compile_text(text, f"{model.name}.arch")
    totals = compiled.stats.totals
    if not problems and model.params and (totals.trainable, totals.non_trainable) != \
            model.params:
        raise AssertionError(f"the imported network counts {totals.trainable:,} + "
                             f"{totals.non_trainable:,} params where {source} has "
                             f"{model.params[0]:,} + {model.params[1]:,}")
    return text
