"""Receptive fields: how much of the input image each layer sees, computed from the
checked graph.

Each layer's window (kernel, stride) and where its first window starts (the padding
before it) come from its registry rules. Walking the graph in creation order (which is
topological), a layer whose input sees a field of size r at stride j sees r + (k − 1)·j
at stride j·s, and its first output's field is centred ((k − 1)/2 − p)·j further on. Where
branches meet (add, concat) the field is the union of the branches' fields as they lie:
the largest where they are centred alike, more where a crop or an upsampling has moved
one (U-Net's cropped skips). Layers that upsample have fractional strides, and their
outputs at different positions see windows of different sizes: in a network that
upsamples or crops, every output position is followed to the first and last input pixel
it depends on, and the field is the largest span. Sizes are not clipped to the image: a
field larger than the input means the layer sees all of it. A layer whose outputs each
read all positions of its input (attention) sees the whole image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from nnc.ir.network import Network

UNIT_WINDOW = ((1, 1), (1, 1))  # the window of a layer that does not widen the field


@dataclass(frozen=True)
class Field:
    """A receptive field in input pixels: its size, the stride between neighbouring
    outputs' fields, and the centre of the first output's field, each as (height,
    width). After upsampling the stride can be a fraction of a pixel."""
    extent: tuple[Fraction, Fraction]
    stride: tuple[Fraction, Fraction]
    centre: tuple[Fraction, Fraction] = (Fraction(0), Fraction(0))

    @property
    def size(self) -> tuple[int, int]:
        return math.ceil(self.extent[0]), math.ceil(self.extent[1])

    def text(self) -> str:
        return f"{self.size[0]}×{self.size[1]}/{fmt_stride(self.stride)}"

    def json(self) -> dict:
        return {"size": list(self.size), "stride": [int(s) if s == int(s) else float(s)
                                                    for s in self.stride]}


def fmt_stride(stride) -> str:
    return str(stride[0]) if stride[0] == stride[1] else f"{stride[0]}×{stride[1]}"


def receptive_fields(net: Network) -> dict[str, Field]:
    """The field of every layer, in input pixels."""
    nodes = net.layers
    one = (Fraction(1), Fraction(1))
    fields = {net.input: Field(one, one)}
    uneven = False  # whether outputs at different positions can see windows of other sizes
    for node, layer in nodes.items():
        if node == net.input:
            continue
        ins = [nodes[i].shape for i in layer.inputs]
        window = layer.kind.window(layer.attrs, ins)
        start = layer.kind.window_start(layer.attrs, ins)
        uneven = uneven or min(window[1]) < 1 or min(start) < 0
        if layer.kind.mixes_positions:  # attention: every token sees every other
            fields[node] = whole_image(fields[layer.inputs[0]], nodes[net.input].shape)
            continue
        if window == UNIT_WINDOW and start == (0, 0) and len(ins) == 1:  # BN, ReLU...
            fields[node] = fields[layer.inputs[0]]
            continue
        # A gate's values for the whole image (a vector after a global pool) widen the
        # field but are broadcast over the grid: only the inputs on the grid place it.
        grid = [fields[i] for i in layer.inputs if nodes[i].shape[:-1] == layer.shape[:-1]]
        moved = [through(fields[i], window, start) for i in layer.inputs]
        fields[node] = union(moved, [through(f, window, start) for f in grid] or moved)
    if uneven:
        for node, extent in largest_extents(net, fields).items():
            fields[node] = Field(extent, fields[node].stride, fields[node].centre)
    return fields


def whole_image(field: Field, image) -> Field:
    """The field of a layer whose outputs each read all positions: the whole input, or
    more where the field was already larger; its outputs keep their stride."""
    extent = tuple(max(r, Fraction(n)) for r, n in zip(field.extent, image[:2]))
    return Field(extent, field.stride, tuple(Fraction(n - 1, 2) for n in image[:2]))


def largest_extents(net: Network, fields: dict[str, Field]) -> dict[str, tuple]:
    """Through layers that upsample (and crops), neighbouring outputs read windows of
    other sizes and places: walk every output position, along each axis, to the first
    and last input pixel it depends on, and take the largest span over positions. The
    walk is linear in the positions of every layer, so it runs only for such networks."""
    import numpy as np  # only here: the front end starts without it
    nodes = net.layers
    spans = {net.input: [(np.arange(n), np.arange(n)) for n in positions(nodes[net.input])]}
    extents = {}
    for node, layer in nodes.items():
        if node == net.input:
            continue
        ins = [nodes[i].shape for i in layer.inputs]
        per_axis = []
        for axis, count in enumerate(positions(layer)):
            outputs = np.arange(count)
            branches = [read(layer, ins, axis, outputs, spans[i][axis], nodes[i],
                             fields[i].stride[axis]) for i in layer.inputs]
            per_axis.append((np.min([lo for lo, _ in branches], axis=0),
                             np.max([hi for _, hi in branches], axis=0)))
        spans[node] = per_axis
        extents[node] = tuple(Fraction(int((hi - lo).max()) + 1) for lo, hi in per_axis)
    return extents


def positions(layer) -> tuple[int, int]:
    return tuple(layer.shape[:2]) if len(layer.shape) == 3 else (1, 1)


def read(layer, ins, axis, outputs, span, source, step):
    """The first and last input pixels that each output reads through one input."""
    import numpy as np
    lo, hi = span
    if len(source.shape) == 3 and len(layer.shape) != 3 or len(lo) == 1 < len(outputs):
        # to a vector (a global pool, fc, flatten), or a gate's vector broadcast: all
        return np.full(len(outputs), lo.min()), np.full(len(outputs), hi.max())
    first, last = layer.kind.reads(layer.attrs, ins, axis, outputs)
    return beyond(lo, np.asarray(first), step), beyond(hi, np.asarray(last), step)


def beyond(values, index, step):
    """values[index], continued at `step` pixels a position into the padding."""
    import numpy as np
    n = len(values)
    inside = values[np.clip(index, 0, n - 1)]
    past = np.where(index < 0, index, np.where(index >= n, index - n + 1, 0))
    return inside + past * float(step)


def through(field: Field, window, start) -> Field:
    """The field of a layer's outputs that read `field` through `window`."""
    return Field(*zip(*((r + (k - 1) * j, j * s, c + (Fraction(k - 1, 2) - p) * j)
                        for r, j, c, k, s, p in zip(field.extent, field.stride, field.centre,
                                                    *window, start))))


def union(fields: list[Field], grid: list[Field]) -> Field:
    """The fields of branches that meet, as they lie on the grid's branches; a branch
    off the grid (a gate's vector) adds only its size."""
    if len(fields) == 1:
        return fields[0]
    axes = []
    for axis in (0, 1):
        low = min(f.centre[axis] - f.extent[axis] / 2 for f in grid)
        high = max(f.centre[axis] + f.extent[axis] / 2 for f in grid)
        extent = max(high - low, *(f.extent[axis] for f in fields))
        axes.append((extent, max(f.stride[axis] for f in grid), (low + high) / 2))
    return Field(*zip(*axes))
