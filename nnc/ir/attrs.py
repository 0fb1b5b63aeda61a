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
