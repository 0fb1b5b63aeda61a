"""The front end as one call: file -> checked graph -> stats, with the source text kept
for diagnostics. The command line and the Python API both go through `compile_file`."""
from __future__ import annotations

from dataclasses import dataclass

from . import expects
from .errors import ArchIOError, ArchLimitError, Coord, NncError
from .expand import Limits, Network, expand
from .parse import MAX_FILE_BYTES, decode, parse_text
from .stats import Stats, compute


@dataclass
class Compiled:
    """A checked network: its graph (`network.graph`) and its counts (`stats`)."""
    network: Network
    stats: Stats

    def to_keras(self, heads: bool = True, precision: str = "float32"):
        """The Keras model of this network (imports Keras)."""
        from .lower import to_keras
        return to_keras(self, heads=heads, precision=precision)


def read_source(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ArchIOError(f"cannot read '{path}': {e.strerror}") from None
    return decode(data, path)


def compile_text(text: str, path: str, limits: Limits = Limits()) -> Compiled:
    try:
        net = expand(parse_text(text, path), text, limits)
    except RecursionError:  # past the nesting limits, e.g. a 10,000-term sum
        raise ArchLimitError("the file nests too deeply to compile (expressions, blocks "
                             "or brackets)", Coord(path, 1, 1)) from None
    return Compiled(net, compute(net))


def compile_file(path: str, limits: Limits = Limits()) -> Compiled:
    return compile_text(read_source(path), path, limits)


def check_expectations(compiled: Compiled) -> list[NncError]:
    return expects.check(compiled.stats)
