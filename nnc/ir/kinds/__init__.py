"""Layer kinds: one class per kind, registered in KINDS by family module."""
from nnc.ir.kinds import core, dense, joins, lecun, mobile, norms, sequence  # noqa: F401  (each registers its kinds)
from nnc.ir.kinds.base import KINDS, Kind, is_minor

__all__ = ["KINDS", "Kind", "is_minor"]
