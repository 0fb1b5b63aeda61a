"""Attribute specs: what a layer kind takes (`padding`, `groups`, `kernel`), of which
type, with which default. The language turns written values into typed ones
(nnc/lang/coerce.py, one coercer per type); kinds only declare them."""
from __future__ import annotations

from dataclasses import dataclass

REQUIRED = object()  # marks an attribute with no default


@dataclass(frozen=True)
class Attr:
    """One attribute of a layer kind. `type` is a key of nnc.lang.coerce.COERCERS."""
    name: str
    type: str
    default: object = REQUIRED
    choices: tuple = ()
    doc: str = ""


class Expression(str):
    """A value written as .arch arithmetic on block parameters (`4*w`), not a literal:
    what an importer puts in a block's body where the calls differ."""


def written(value) -> str:
    """A typed attribute value as .arch writes it: `3`, `[1, 7]`, `same`, `false`,
    `1.001e-05`, a grid of two rows or more a row a line, its marks spaced as papers
    print connection tables (`["X .",` newline `". X"]`); an Expression as is."""
    if isinstance(value, Expression):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if value and all(isinstance(v, str) for v in value):
            if len(value) == 1:
                return f'["{value[0]}"]'
            return "[\n    " + ",\n    ".join(f'"{" ".join(row)}"' for row in value) + "]"
        if len(value) == 2 and value[0] == value[1]:
            return written(value[0])
        return "[" + ", ".join(written(v) for v in value) + "]"
    if isinstance(value, float):
        return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)
    return str(value)
