"""The front end as one call: file -> checked graph -> stats, with the source text kept
for diagnostics. The command line and the Python API (nnc/api.py) both go through
`compile_file`."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass

from nnc.analysis import expects
from nnc.analysis.stats import Stats, compute
from nnc.errors import ArchLimitError, Coord, NncError
from nnc.lang.expand import Limits, Network, expand
from nnc.lang.link import link
from nnc.lang.parse import parse_text, read_source


@dataclass
class Compiled:
    """A checked network: its graph (`network.graph`) and its counts (`stats`)."""
    network: Network
    stats: Stats


def compile_text(text: str, path: str, limits: Limits = Limits()) -> Compiled:
    with collector_paused():
        try:
            net = expand(link(parse_text(text, path)), text, limits)
        except RecursionError:  # past the nesting limits, e.g. a 10,000-term sum
            raise ArchLimitError("the file nests too deeply to compile (expressions, "
                                 "blocks or brackets)", Coord(path, 1, 1)) from None
        return Compiled(net, compute(net))


@contextmanager
def collector_paused():
    """Compiling allocates a handful of objects per layer and frees almost none of them:
    the cyclic garbage collector's passes over the growing graph find nothing to free,
    yet take a third of the time of a network of 100,000 layers."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_file(path: str, limits: Limits = Limits()) -> Compiled:
    return compile_text(read_source(path), path, limits)


def check_expectations(compiled: Compiled) -> list[NncError]:
    return expects.check(compiled.stats)
