"""How nnc writes numbers and shapes, in messages, reports and tables alike: shared by
every stage, so that an error, a table and a diff say `3.858G` and `56×56×256` the same
way."""
from __future__ import annotations


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
