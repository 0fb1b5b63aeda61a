"""The syntax tree of an .arch file: small frozen dataclasses, one per construct.

The parser (parse.py) builds these; expansion (expand.py) reads them. Every node carries
the `Coord` of its first token so that any later error can point back at the source.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from nnc.errors import Coord

# --- expressions ------------------------------------------------------------------

@dataclass(frozen=True)
class Num:
    value: int | float
    coord: Coord


@dataclass(frozen=True)
class Name:
    """A parameter reference, or a bare word such as `same` or `relu` when no parameter
    of that name is in scope."""
    id: str
    coord: Coord


@dataclass(frozen=True)
class Str:
    value: str
    coord: Coord


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * / //
    left: "Expr"
    right: "Expr"
    coord: Coord


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    coord: Coord


@dataclass(frozen=True)
class Call:
    """A function of the arithmetic: `divisible(exp/4, 8)`, `ceil(1.1*n)`."""
    function: str
    args: tuple["Expr", ...]
    coord: Coord


@dataclass(frozen=True)
class ListValue:
    items: tuple["Expr", ...]
    coord: Coord


Expr = Union[Num, Name, Str, BinOp, Neg, Call, ListValue]


# --- rows -------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    name: str | None  # None for a positional value
    value: Expr
    coord: Coord


@dataclass(frozen=True)
class Unit:
    """`conv3-64/2(groups=2)`: name `conv3`, width 64, stride 2, options. Whether the
    name is a layer kind or a block is decided at expansion, where blocks are known."""
    name: str
    width: Expr | None
    stride: Expr | None
    options: tuple[Option, ...]
    coord: Coord
    text: str  # the unit as written, for messages and expansion chains


@dataclass(frozen=True)
class Item:
    unit: Unit
    repeat: Expr | None
    coord: Coord


@dataclass(frozen=True)
class Sequence:
    items: tuple[Item, ...]
    coord: Coord


@dataclass(frozen=True)
class Compound:
    """`residual:`, `concat:` or `head(source):` with an indented body of rows."""
    keyword: str
    options: tuple[Option, ...]
    body: tuple["Row", ...]
    coord: Coord


@dataclass(frozen=True)
class Row:
    label: str | None
    body: Sequence | Compound
    coord: Coord


# --- statements -------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    coord: Coord


@dataclass(frozen=True)
class Block:
    name: str
    params: tuple[Param, ...]
    body: tuple[Row, ...]
    coord: Coord


@dataclass(frozen=True)
class Default:
    kind: str
    options: tuple[Option, ...]
    coord: Coord


@dataclass(frozen=True)
class Use:
    """`use "efficientnet-b0.arch"(width=1.1)`: another file of the same folder."""
    path: str
    options: tuple[Option, ...]
    coord: Coord


@dataclass(frozen=True)
class Measure:
    """The right-hand side of an expect line: a number (`25,557,032`, `3.8G`) or a
    shape (`28x28x256`)."""
    value: float | tuple[int, ...]
    text: str
    coord: Coord


@dataclass(frozen=True)
class Tolerance:
    amount: float
    percent: bool
    text: str


@dataclass(frozen=True)
class Expect:
    metric: tuple[str, ...]
    compare: str  # '=' or '≈'
    measure: Measure
    tolerance: Tolerance | None
    coord: Coord


@dataclass(frozen=True)
class Program:
    file: str
    network: str | None
    input: tuple[int, ...] | None
    input_coord: Coord | None
    defaults: tuple[Default, ...]
    blocks: tuple[Block, ...]
    rows: tuple[Row, ...]
    expects: tuple[Expect, ...]
    params: tuple[Param, ...] = ()  # `network name(width=1.0)`: constants of the file
    uses: tuple[Use, ...] = ()
