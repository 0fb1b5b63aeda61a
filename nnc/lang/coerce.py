"""Attribute coercion: the one place that turns a written value (`padding=same`,
`groups=2`, `kernel=[1, 7]`) into the typed value a layer kind uses, or into a
positioned error saying what was expected and what was received."""
from __future__ import annotations

import math

from nnc.errors import ArchValueError, Coord
from nnc.ir.attrs import Attr


def coerce(attr: Attr, value, coord: Coord | None):
    try:
        return COERCERS[attr.type](value, attr)
    except (TypeError, ValueError) as e:
        raise ArchValueError(f"{attr.name} must be {e}. Received: {attr.name}={render(value)}",
                             coord) from None


def render(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return str(value)


def as_int(value, attr=None, minimum=1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"an integer ≥ {minimum}")
    if value != int(value) or value < minimum:
        raise ValueError(f"an integer ≥ {minimum}")
    return int(value)


def as_count(value, attr=None) -> int:
    return as_int(value, attr, minimum=0)


def as_float(value, attr=None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("a number")
    if not math.isfinite(value):
        raise ValueError("a finite number")
    return float(value)


def as_fraction(value, attr=None) -> float:
    number = as_float(value)
    if not 0 <= number < 1:
        raise ValueError("a number in [0, 1)")
    return number


def as_bool(value, attr=None) -> bool:
    if value in ("true", 1, True):
        return True
    if value in ("false", 0, False):
        return False
    raise ValueError("true or false")


def as_choice(value, attr) -> str:
    if value not in attr.choices:
        raise ValueError("one of " + ", ".join(map(str, attr.choices)))
    return value


def as_pair(value, attr=None) -> tuple[int, int]:
    """A kernel or stride: `3` means 3×3, `[1, 7]` means 1×7."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError("an integer or a pair [height, width]")
        return as_int(value[0]), as_int(value[1])
    try:
        n = as_int(value)
    except (TypeError, ValueError):
        raise ValueError("an integer or a pair [height, width]") from None
    return n, n


def as_padding(value, attr=None):
    """'same', 'valid', or explicit zero padding: `1` or `[1, 2]` (rows, columns)."""
    if value in ("same", "valid"):
        return value
    try:
        if isinstance(value, tuple) and len(value) == 2:
            return as_count(value[0]), as_count(value[1])
        if not isinstance(value, tuple):
            return as_count(value), as_count(value)
    except (TypeError, ValueError):
        pass
    raise ValueError("same, valid, or a number of zero rows/columns such as 1 or "
                     "[1, 2]")


def as_strings(value, attr=None) -> tuple[str, ...]:
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError('a list of strings ["...", "..."]')
    return value


def as_grid(value, attr=None) -> tuple[str, ...]:
    """A grid of X and . written as one string per row, as papers print connection
    tables and ±1 codes: ["X . X", ". X X"] -> ("X.X", ".XX"). Blanks are ignored."""
    rows = tuple("".join(row.split()) for row in as_strings(value))
    if not rows or any(set(row) - {"X", "."} for row in rows):
        raise ValueError('a list of strings of X and . such as ["X . X", ". X X"]')
    if any(len(row) != len(rows[0]) for row in rows):
        lengths = ", ".join(str(len(row)) for row in rows)
        raise ValueError(f"a grid whose rows are equally long (rows of {lengths} marks)")
    return rows


def as_dims(value, attr=None) -> tuple[int, ...]:
    if not isinstance(value, tuple):
        raise TypeError("a shape such as [224, 224, 3]")
    return tuple(as_int(v) for v in value)


def as_numbers(value, attr=None) -> tuple[float, ...]:
    """One number per channel, `[123.675, 116.28, 103.53]`, or one for all."""
    values = value if isinstance(value, tuple) else (value,)
    if not values:
        raise ValueError("a number or a list of numbers")
    try:
        return tuple(as_float(v) for v in values)
    except TypeError:
        raise TypeError("a number or a list of numbers") from None


def as_symbol(value, attr=None) -> str:
    if not isinstance(value, str):
        raise TypeError("a name")
    return value


COERCERS = {
    "int": as_int, "count": as_count, "float": as_float, "fraction": as_fraction,
    "bool": as_bool, "choice": as_choice, "pair": as_pair, "padding": as_padding,
    "symbol": as_symbol, "dims": as_dims, "numbers": as_numbers,
    "grid": as_grid,
}
