"""Backends: one folder each, each with one lowering table from layer kind to its
output, checked against the kinds when it is imported."""
from __future__ import annotations

from nnc.ir.kinds import KINDS


def check_coverage(table: dict, backend: str) -> None:
    """Every kind has exactly one lowering, and the table names no kind that is gone."""
    missing, unknown = sorted(set(KINDS) - set(table)), sorted(set(table) - set(KINDS))
    if missing or unknown:
        raise TypeError(f"the {backend} lowering table does not match the layer kinds: "
                        f"no lowering for {missing or 'none'}; lowerings of unknown kinds "
                        f"{unknown or 'none'}")
