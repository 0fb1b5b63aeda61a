"""How nnc writes numbers and shapes, in messages, reports and tables alike: shared by
every stage, so that an error, a table and a diff say `3.858G` and `56×56×256` the same
way."""
from __future__ import annotations

import reprlib


def human(n: float) -> str:
    """3858000000 -> '3.858G' (decimal units, four significant digits)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.4g}{unit}"
    return f"{n:g}"


def human_bytes(n: int) -> str:
    """Binary units, as memory is bought: 1536 -> '1.5 KiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def dims(shape) -> str:
    """A shape without the batch axis, as the papers print it: (56, 56, 256) -> 56×56×256."""
    return "×".join(map(str, shape))


SHOWN = reprlib.Repr()  # set by attribute: Python 3.10 and 3.11 take no arguments here
SHOWN.maxlevel, SHOWN.maxstring, SHOWN.maxother, SHOWN.maxlong = 2, 60, 60, 40
SHOWN.maxdict = SHOWN.maxlist = SHOWN.maxtuple = SHOWN.maxset = 4


def shown(value) -> str:
    """A value as a message quotes it, bounded in size however large or deeply nested
    the value is (a YAML alias bomb, a huge list): the repr of its first few items."""
    return SHOWN.repr(value)
