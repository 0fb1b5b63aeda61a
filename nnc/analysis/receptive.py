"""Receptive fields: how much of the input image each layer sees, computed from the
checked graph.

Receptive field. Each layer's window (kernel, stride) comes from its registry rule.
Walking the graph in creation order (which is topological), a layer whose input sees a
field of size r at stride j sees r + (k - 1)·j at stride j·s. Where branches meet
(add, concat) the field is the largest over the branches. Padding does not change the
field; it only places part of it outside the image. Sizes are not clipped to the image:
a field larger than the input means the layer sees all of it.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnc.ir.network import Network

UNIT_WINDOW = ((1, 1), (1, 1))  # the window of a layer that does not widen the field

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
    nodes = net.layers
    fields = {net.input: Field((1, 1), (1, 1))}
    for node, layer in nodes.items():
        if node == net.input:
            continue
        inputs = layer.inputs
        window = layer.kind.window(layer.attrs, [nodes[i].shape for i in inputs])
        if window == UNIT_WINDOW and len(inputs) == 1:  # BN, ReLU...: the same field
            fields[node] = fields[inputs[0]]
            continue
        seen = [fields[i] for i in inputs]
        # A gate's values for the whole image (a vector after a global pool) widen the
        # field but are broadcast over the grid: the step is that of the inputs on it.
        grid = [fields[i] for i in inputs if nodes[i].shape[:-1] == layer.shape[:-1]] or seen
        (kh, kw), (sh, sw) = window
        size = (max(f.size[0] + (kh - 1) * f.stride[0] for f in seen),
                max(f.size[1] + (kw - 1) * f.stride[1] for f in seen))
        stride = (max(f.stride[0] for f in grid) * sh, max(f.stride[1] for f in grid) * sw)
        fields[node] = Field(size, stride)
    return fields
