"""The paths of residual networks, counted by length.

Paths (Veit et al. 2016). A residual unit is an `add` made by a `residual:` compound;
its first input is the body, its second the shortcut. A path from the input to the
output chooses body or shortcut at each unit; its length is the number of bodies it
goes through. For n units in sequence there are 2^n paths and C(n, k) of length k.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from nnc.analysis.memory import inference_nodes
from nnc.ir.network import BODY, Network

EXACT_UNITS = 1000  # above this, JSON gives shares, not counts with thousands of digits
MAX_DIGITS = 4300   # Python writes no longer integer as text (sys.set_int_max_str_digits):
                    # a count of more digits (from 14,285 residual units) is given as a power


@dataclass(frozen=True)
class Hist:
    """A path-length histogram, kept factored as scale · z^offset · (1 + z)^power while
    the network is a chain of residual units (so a 100,000-unit ResNet costs no more
    than a small one), and as explicit terms {length: count} once branches make it
    irregular."""
    scale: int = 1
    offset: int = 0
    power: int = 0
    terms: tuple[tuple[int, int], ...] | None = None

    def shifted(self) -> "Hist":
        if self.terms is None:
            return Hist(self.scale, self.offset + 1, self.power)
        return Hist(terms=tuple((k + 1, c) for k, c in self.terms))

    def explicit(self) -> dict[int, int]:
        if self.terms is not None:
            return dict(self.terms)
        counts, c = {}, self.scale
        for k in range(self.power + 1):  # C(p, k+1) = C(p, k)·(p-k)/(k+1)
            counts[self.offset + k] = c
            c = c * (self.power - k) // (k + 1)
        return counts


def merge(hists: list[Hist]) -> Hist:
    """The histogram of a layer that joins its inputs' paths."""
    first = hists[0]
    if all(h.terms is None and (h.offset, h.power) == (first.offset, first.power)
           for h in hists):
        return Hist(sum(h.scale for h in hists), first.offset, first.power)
    if len(hists) == 2 and all(h.terms is None for h in hists):
        low, high = sorted(hists, key=lambda h: h.offset)
        if (high.offset, high.scale, high.power) == (low.offset + 1, low.scale, low.power):
            return Hist(low.scale, low.offset, low.power + 1)  # (1 + z) times: a residual unit
    total: dict[int, int] = {}
    for h in hists:
        for k, c in h.explicit().items():
            total[k] = total.get(k, 0) + c
    return Hist(terms=tuple(sorted(total.items())))


@dataclass(frozen=True)
class Paths:
    units: int   # residual units (adds) on the inference network
    hist: Hist   # path length (bodies passed through) -> number of paths

    @property
    def count(self) -> int:
        h = self.hist
        return h.scale * 2 ** h.power if h.terms is None else sum(c for _, c in h.terms)

    @property
    def histogram(self) -> dict[int, int]:
        return self.hist.explicit()

    @property
    def lengths(self) -> range | list[int]:
        h = self.hist
        return range(h.offset, h.offset + h.power + 1) if h.terms is None else \
            [k for k, _ in h.terms]

    def fraction(self, length: int) -> float:
        h = self.hist
        if h.terms is not None:
            return dict(h.terms).get(length, 0) / self.count
        k = length - h.offset
        if not 0 <= k <= h.power:
            return 0.0
        return math.exp(math.lgamma(h.power + 1) - math.lgamma(k + 1)
                        - math.lgamma(h.power - k + 1) - h.power * math.log(2))

    def share(self, low: int, high: int) -> float:
        """The fraction of paths whose length is in low..high (inclusive)."""
        return sum(self.fraction(k) for k in self.lengths if low <= k <= high)

    def central_range(self, fraction: float) -> tuple[int, int]:
        """The narrowest range of lengths holding at least `fraction` of the paths,
        growing outward from the most common length."""
        low = high = max(self.lengths, key=self.fraction)
        held = self.fraction(low)
        first, last = min(self.lengths), max(self.lengths)
        while held < fraction:
            below, above = self.fraction(low - 1), self.fraction(high + 1)
            if below >= above and low > first or high == last:
                low -= 1
                held += below
            else:
                high += 1
                held += above
        return low, high

    @property
    def digits(self) -> int:
        """The count's decimal digits, counted without writing it out."""
        fewest = int((self.count.bit_length() - 1) * math.log10(2)) + 1  # 2^(bits-1)'s
        return fewest + (self.count >= 10 ** fewest)

    def json(self) -> dict:
        exact = self.units <= EXACT_UNITS or self.hist.terms is not None
        return {"units": self.units,
                "count": self.count if self.digits <= MAX_DIGITS else None,
                "length_histogram": ({str(k): v for k, v in sorted(self.histogram.items())}
                                     if exact else None),
                "length_share": {str(k): self.fraction(k) for k in self.lengths
                                 if self.fraction(k) >= 1e-12}}


def count_paths(net: Network) -> Paths:
    """Count input-to-output paths by length with one pass over the graph: a layer's
    histogram is the merge of its inputs', shifted by one along a residual body.
    Histograms are dropped once their last reader is done, so memory stays linear."""
    data_of = net.layers
    nodes = inference_nodes(net)
    last_reader = {i: node for node in nodes for i in data_of[node].inputs}
    hist: dict[str, Hist] = {net.input: Hist()}
    for node in nodes:
        layer = data_of[node]
        if node == net.input:
            continue
        inputs = [hist[i].shifted() if layer.closes_unit and position == BODY
                  else hist[i] for position, i in enumerate(layer.inputs)]
        hist[node] = inputs[0] if len(inputs) == 1 else merge(inputs)
        for i in layer.inputs:
            if last_reader.get(i) == node and i != net.output:
                del hist[i]
    units = sum(1 for n in nodes if data_of[n].closes_unit)
    return Paths(units, hist[net.output])
