"""Names and values in scope: the bindings a unit, a block call or a compound sees, and
the turning of written options into typed attributes.

An option's value is found in this order: written on the unit (short form `conv3-64/2`
or `(name=value)`), then the file's `default KIND(...)` lines, then the kind's own
default. Every value is coerced by its attribute spec (attrs.py), so a wrong value is a
positioned error at the value.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from nnc.errors import (
    ArchNameError,
    ArchSyntaxError,
    ArchValueError,
    Coord,
    Frame,
    NncError,
    did_you_mean,
)
from nnc.ir.attrs import REQUIRED, Attr
from nnc.ir.kinds import KINDS
from nnc.lang import ast
from nnc.lang.arith import evaluate, number
from nnc.lang.coerce import coerce

COMPOUNDS = {
    "residual": ((Attr("shortcut", "choice", "B", ("A", "B", "C", "identity", "none", "auto"),
                       doc="A: zero-pad, B: project where shapes change, C: always "
                           "project, none: no shortcut (a plain network), auto: identity "
                           "where the body keeps the shape and none where it changes it "
                           "(MobileNetV2's inverted residuals)"),
                  Attr("projection_bn", "bool", None,
                       doc="whether a projection shortcut is followed by batchnorm; by "
                           "default, when the body has batchnorm"),
                  Attr("drop_path", "fraction", 0.0,
                       doc="stochastic depth: the rate of dropping the body while "
                           "training, rising linearly over the network's residual units "
                           "that give it, from 0 at the first")), ("shortcut",)),
    "concat": ((), ()),
    "gate": ((), ()),
    "head": ((Attr("source", "symbol", doc="the row whose output the head taps"),
              Attr("loss_weight", "float", 1.0)), ("source",)),
    # not a compound but a unit: an earlier row's output joined to the current one
    "skip": ((Attr("row", "symbol", doc="the earlier row whose output is joined"),
              Attr("crop", "bool", False,
                   doc="take the centre of the row's maps where they are larger"),
              Attr("join", "choice", "concat", ("concat", "add"))), ("row",)),
    # nor this: the first unit of a row that reads an earlier row instead of the last one
    "from": ((Attr("row", "symbol", doc="the earlier row whose output the row reads"),),
             ("row",)),
}

@dataclass(frozen=True)
class Scope:
    path: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)
    chain: tuple[Frame, ...] = ()
    blocks: tuple[str, ...] = ()  # the block calls being expanded, outermost first
    calls: tuple[str, ...] = ()   # their names (`conv3_x.2`), outermost first
    shortcut: bool = False        # inside a residual unit's shortcut

    def child(self, segment: str, shortcut: bool = False) -> "Scope":
        return replace(self, path=self.path + (segment,), shortcut=self.shortcut or shortcut)


class Binder:
    """The attribute half of the expander (expand.Expander): it needs `self.defaults`,
    made by `collect_defaults` from the file's default lines."""
    defaults: dict[str, dict]

    def given_values(self, what, attrs, positional, unit, size, scope) -> dict:
        """The values written on a unit (short form and options), coerced, by name."""
        names = {a.name: a for a in attrs}
        written = []
        slots = KINDS[what].short if what in KINDS else (None, None, None)
        for i, (slot, value, how) in enumerate(zip(
                slots, (size, unit.width, unit.stride),
                ("size suffix", "'-' value", "'/' stride"))):
            if value is None:
                continue
            if slot is None:
                raise ArchSyntaxError(f"'{what}' takes no {how}. Received: {unit.text}",
                                      unit.coord, scope.chain)
            if i == 0:  # the size suffix is part of the name: already a number
                written.append((slot, value, unit.coord))
            else:  # `-{w}` and `/{s}` are always numbers: a bare word there is a typo
                written.append((slot, self.value(value, scope, number), value.coord))
        written += self.option_values(what, positional, unit.options, scope)
        given = {}
        for name, value, coord in written:
            if name not in names:
                raise ArchNameError(f"'{what}' has no option '{name}'"
                                    f"{did_you_mean(name, names)} Options of {what}: "
                                    f"{', '.join(names) or 'none'}", coord, scope.chain)
            if name in given:
                raise ArchValueError(f"'{name}' is given twice. Received: {unit.text}",
                                     coord, scope.chain)
            given[name] = self.coerced(names[name], value, coord, scope)
        return given

    def option_values(self, what, positional, options, scope):
        values = []
        for i, option in enumerate(options):
            name = option.name
            if name is None:
                if i >= len(positional):
                    raise ArchSyntaxError(
                        f"'{what}' takes {len(positional)} positional value(s); name the "
                        f"others, as in option=value", option.coord, scope.chain)
                name = positional[i]
            values.append((name, self.value(option.value, scope), option.coord))
        return values

    def coerced(self, attr: Attr, value, coord: Coord, scope: Scope):
        try:
            return coerce(attr, value, coord)
        except NncError as e:
            raise replace_chain(e, scope.chain) from None

    def attrs_for(self, what: str, attrs, given: dict) -> dict:
        """Written values, then the file's `default` lines, then the kind's defaults."""
        result = {}
        for attr in attrs:
            if attr.name in given:
                result[attr.name] = given[attr.name]
            elif attr.name in self.defaults[what]:
                result[attr.name] = self.defaults[what][attr.name]
            elif attr.default is REQUIRED:
                raise ArchValueError(f"'{what}' needs a value for '{attr.name}' "
                                     f"({attr.doc}). Received: no {attr.name}")
            else:
                result[attr.name] = attr.default
        return result

    def collect_defaults(self, lines, constants: dict) -> dict[str, dict]:
        """The file's `default` lines, whose values may use the network's parameters."""
        defaults: dict[str, dict] = defaultdict(dict)
        for line in lines:
            spec = COMPOUNDS.get(line.kind) or (
                (KINDS[line.kind].attrs, KINDS[line.kind].positional)
                if line.kind in KINDS and not KINDS[line.kind].internal else None)
            if spec is None:
                known = [k for k, v in KINDS.items() if not v.internal] + list(COMPOUNDS)
                raise ArchNameError(f"'default' names an unknown layer kind '{line.kind}'"
                                    f"{did_you_mean(line.kind, known)}", line.coord)
            attrs = {a.name: a for a in spec[0]}
            for name, value, coord in self.option_values(line.kind, spec[1], line.options,
                                                         Scope(env=constants)):
                if name not in attrs:
                    raise ArchNameError(f"'{line.kind}' has no option '{name}'"
                                        f"{did_you_mean(name, attrs)}", coord)
                if name in defaults[line.kind]:
                    raise ArchValueError(f"a default for {line.kind}.{name} is already set",
                                         coord)
                defaults[line.kind][name] = coerce(attrs[name], value, coord)
        return defaults

    def value(self, expr: ast.Expr, scope: Scope, evaluator=evaluate):
        try:
            return evaluator(expr, scope.env)
        except NncError as e:
            raise replace_chain(e, scope.chain) from None

    def integer(self, expr, scope, what, minimum=0) -> int:
        value = self.value(expr, scope)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or value != int(value) or value < minimum:
            raise ArchValueError(f"{what} must be a whole number ≥ {minimum}. "
                                 f"Received: {value}", expr.coord, scope.chain)
        return int(value)


def replace_chain(e: NncError, chain) -> NncError:
    return type(e)(e.message, e.coord, e.chain or chain)


def replace_position(e: NncError, coord, chain) -> NncError:
    return type(e)(e.message, e.coord or coord, e.chain or chain)
