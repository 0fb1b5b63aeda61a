"""What readers of the papers reason about beyond params and MACs, computed from the
checked graph: receptive fields, memory, and the paths of residual networks.

Receptive field. Each layer's window (kernel, stride) comes from its registry rule.
Walking the graph in creation order (which is topological), a layer whose input sees a
field of size r at stride j sees r + (k - 1)·j at stride j·s. Where branches meet
(add, concat) the field is the largest over the branches. Padding does not change the
field; it only places part of it outside the image. Sizes are not clipped to the image:
a field larger than the input means the layer sees all of it.

Memory (docs/seeing.md states the conventions at length). A tensor is one layer's output
for one image, the input image included. Element-wise layers whose kind is `in_place` in
the registry (activations, dropout, flatten) write over their input's buffer when they
are its only reader, as deep-learning frameworks do; every other layer allocates one.

Paths (Veit et al. 2016). A residual unit is an `add` made by a `residual:` compound;
its first input is the body, its second the shortcut. A path from the input to the
output chooses body or shortcut at each unit; its length is the number of bodies it
goes through. For n units in sequence there are 2^n paths and C(n, k) of length k.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .expand import Network
from .registry import KINDS

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
BODY = 0  # the add's input that comes from the residual body (expand.residual)
UNIT_WINDOW = ((1, 1), (1, 1))  # the window of a layer that does not widen the field


def node_data(net: Network) -> dict[str, dict]:
    """Every node's data by name, in creation order (which is topological), as a plain
    dict: these passes look up every node's inputs, and networkx's node view checks its
    argument on every lookup, which costs more than the arithmetic of a pass."""
    return dict(net.graph.nodes(data=True))


# --- receptive fields -----------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """A receptive field in input pixels: its size and the stride between neighbouring
    outputs' fields, both as (height, width)."""
    size: tuple[int, int]
    stride: tuple[int, int]

    def text(self) -> str:
        return f"{self.size[0]}×{self.size[1]}/{fmt_stride(self.stride)}"

    def json(self) -> dict:
        return {"size": list(self.size), "stride": list(self.stride)}


def fmt_stride(stride: tuple[int, int]) -> str:
    return str(stride[0]) if stride[0] == stride[1] else f"{stride[0]}×{stride[1]}"


def receptive_fields(net: Network) -> dict[str, Field]:
    """The field of every layer, in input pixels."""
    nodes = node_data(net)
    fields = {net.input: Field((1, 1), (1, 1))}
    for node, data in nodes.items():
        if node == net.input:
            continue
        inputs = data["inputs"]
        window = KINDS[data["kind"]].window(data["attrs"], [nodes[i]["shape"] for i in inputs])
        if window == UNIT_WINDOW and len(inputs) == 1:  # BN, ReLU...: the same field
            fields[node] = fields[inputs[0]]
            continue
        seen = [fields[i] for i in inputs]
        (kh, kw), (sh, sw) = window
        size = (max(f.size[0] + (kh - 1) * f.stride[0] for f in seen),
                max(f.size[1] + (kw - 1) * f.stride[1] for f in seen))
        stride = (max(f.stride[0] for f in seen) * sh, max(f.stride[1] for f in seen) * sw)
        fields[node] = Field(size, stride)
    return fields


# --- memory ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Memory:
    """Bytes: weights once; the rest for one image (multiply by the batch)."""
    dtype: str
    batch: int
    weights: int
    activations: int     # every layer's output, the input image included
    peak_live: int       # inference: the most bytes of tensors alive at one time
    training_kept: int   # training: the buffers kept from the forward pass for backward

    def json(self) -> dict:
        per_image = {"activations": self.activations, "peak_live": self.peak_live,
                     "training_kept": self.training_kept}
        return {"dtype": self.dtype, "bytes_per_element": DTYPE_BYTES[self.dtype],
                "batch": self.batch, "weights": self.weights, "per_image": per_image,
                "per_batch": {k: v * self.batch for k, v in per_image.items()}}


def memory(net: Network, batch: int = 1, dtype: str = "float32") -> Memory:
    nodes = node_data(net)
    size = DTYPE_BYTES[dtype]
    elements = {n: numel(d["shape"]) for n, d in nodes.items()}
    owner = buffer_owners(net, nodes)
    weights = sum(sum(d["params"]) for d in nodes.values())
    kept = sum(elements[n] for n in set(owner.values()))
    return Memory(dtype, batch, weights * size, sum(elements.values()) * size,
                  peak_live(net, nodes, owner, elements) * size, kept * size)


def numel(shape) -> int:
    result = 1
    for d in shape:
        result *= d
    return result


def buffer_owners(net: Network, nodes: dict[str, dict]) -> dict[str, str]:
    """For each layer, the layer whose buffer holds its output: itself, or for an
    in-place layer that is its input's only reader, the owner of that input's buffer."""
    readers = dict(net.graph.out_degree())
    owner = {}
    for node, data in nodes.items():
        ins = data["inputs"]
        if KINDS[data["kind"]].in_place and len(ins) == 1 and readers[ins[0]] == 1:
            owner[node] = owner[ins[0]]
        else:
            owner[node] = node
    return owner


def inference_nodes(net: Network) -> list[str]:
    """The layers an inference pass runs, in creation order: all but the side heads."""
    heads = {n for r in net.heads for n in r.nodes}
    return [n for n in net.graph.nodes if n not in heads]


def peak_live(net: Network, nodes: dict[str, dict], owner: dict[str, str],
              elements: dict[str, int]) -> int:
    """Run the inference layers in creation order. A buffer is alive from the step that
    writes it to the last step that reads it (or any layer aliasing it); the output is
    alive to the end. Returns the largest total of live elements at any step."""
    order = inference_nodes(net)
    last = {}
    for step, node in enumerate(order):  # steps only grow: the last assignment is the last use
        last[owner[node]] = step
        for tensor in nodes[node]["inputs"]:
            last[owner[tensor]] = step
    last[owner[net.output]] = len(order)
    freed_at: dict[int, list[str]] = {}
    for buffer, step in last.items():
        freed_at.setdefault(step, []).append(buffer)
    alive, live, peak = set(), 0, 0  # live: the elements of the alive buffers
    for step, node in enumerate(order):
        if owner[node] not in alive:
            alive.add(owner[node])
            live += elements[owner[node]]
        peak = max(peak, live)
        for buffer in freed_at.get(step, ()):
            alive.remove(buffer)
            live -= elements[buffer]
    return peak


# --- paths of residual networks -------------------------------------------------------

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


def paths(net: Network) -> Paths:
    """Count input-to-output paths by length with one pass over the graph: a layer's
    histogram is the merge of its inputs', shifted by one along a residual body.
    Histograms are dropped once their last reader is done, so memory stays linear."""
    data_of = node_data(net)
    nodes = inference_nodes(net)
    last_reader = {i: node for node in nodes for i in data_of[node]["inputs"]}
    hist: dict[str, Hist] = {net.input: Hist()}
    for node in nodes:
        data = data_of[node]
        if node == net.input:
            continue
        inputs = [hist[i].shifted() if data["kind"] == "add" and position == BODY
                  else hist[i] for position, i in enumerate(data["inputs"])]
        hist[node] = inputs[0] if len(inputs) == 1 else merge(inputs)
        for i in data["inputs"]:
            if last_reader.get(i) == node and i != net.output:
                del hist[i]
    units = sum(1 for n in nodes if data_of[n]["kind"] == "add")
    return Paths(units, hist[net.output])


# --- text -----------------------------------------------------------------------------

def human_bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def format_memory(m: Memory) -> list[str]:
    """Memory as a small table: one line per figure, per image and per batch."""
    batch = m.batch > 1
    lines = [f"memory ({m.dtype}, {DTYPE_BYTES[m.dtype]} bytes a value"
             + (f", batch {m.batch}" if batch else "") + "):",
             f"  {'weights:':<34} {human_bytes(m.weights):>10}"]
    for label, value in (("activations (every layer output)", m.activations),
                         ("peak live at inference", m.peak_live),
                         ("kept for backward in training", m.training_kept)):
        line = f"  {label + ':':<34} {human_bytes(value):>10} per image"
        lines.append(line + (f", {human_bytes(value * m.batch)} per batch" if batch else ""))
    return lines


BAR_WIDTH = 40
SHOWN_SHARE = 0.001  # lengths holding less than 0.1% of paths are summed into the tails


def format_paths(p: Paths) -> list[str]:
    """The path-length distribution drawn as a horizontal histogram."""
    power = f"2^{p.units}" if p.units and p.count == 2 ** p.units else ""
    if p.digits <= MAX_DIGITS:
        count = f"{p.count:,}" + (f" = {power}" if power else "")
    else:
        count = f"{power or f'about 10^{p.digits - 1}'} ({p.digits:,} digits)"
    lines = [f"paths from input to output: {count}"
             + (f"; residual units: {p.units}" if p.units else " (no residual units)")]
    if not p.units:
        return lines
    low, high = p.central_range(0.95)
    lines.append(f"path length = residual bodies passed through; {p.share(low, high):.1%} "
                 f"of paths are {low}–{high} long")
    lengths = list(p.lengths)
    shown = [k for k in lengths if p.fraction(k) >= SHOWN_SHARE]
    top = max(p.fraction(k) for k in shown)
    rows = []
    if shown[0] > lengths[0]:
        rows.append((f"≤{shown[0] - 1}", p.share(lengths[0], shown[0] - 1)))
    rows += [(str(k), p.fraction(k)) for k in shown]
    if shown[-1] < lengths[-1]:
        rows.append((f"≥{shown[-1] + 1}", p.share(shown[-1] + 1, lengths[-1])))
    lines.append("  length   share")
    lines += [f"  {label:>6} {share:7.2%} {bar(share / top)}" for label, share in rows]
    return lines


def bar(fraction: float) -> str:
    """A bar of BAR_WIDTH characters at fraction 1, in eighths of a character."""
    eighths = round(fraction * BAR_WIDTH * 8)
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
