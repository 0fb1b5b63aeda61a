"""Memory of a network: its weights, every activation, the peak live at inference and
what training keeps for the backward pass.

Memory (docs/seeing.md states the conventions at length). A tensor is one layer's output
for one image, the input image included. Element-wise layers whose kind is `in_place` in
the registry (activations, dropout, flatten) write over their input's buffer when they
are its only reader, as deep-learning frameworks do; every other layer allocates one.
A layer that holds values of its own while it runs (attention's queries, keys, values and
weights: the kind's `scratch`) adds them to the peak at its step, and training keeps them.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnc.ir.network import Layer, Network

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}

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
    nodes = net.layers
    size = DTYPE_BYTES[dtype]
    elements = {n: numel(layer.shape) for n, layer in nodes.items()}
    owner = buffer_owners(net, nodes)
    weights = sum(sum(layer.params) for layer in nodes.values())
    scratch = {n: layer.kind.scratch(layer.attrs, [nodes[i].shape for i in layer.inputs],
                                     layer.shape) for n, layer in nodes.items()}
    kept = sum(elements[n] for n in set(owner.values())) + sum(scratch.values())
    return Memory(dtype, batch, weights * size, sum(elements.values()) * size,
                  peak_live(net, nodes, owner, elements, scratch) * size, kept * size)


def numel(shape) -> int:
    result = 1
    for d in shape:
        result *= d
    return result


def buffer_owners(net: Network, nodes: dict[str, Layer]) -> dict[str, str]:
    """For each layer, the layer whose buffer holds its output: itself, or for an
    in-place layer that is its input's only reader, the owner of that input's buffer."""
    readers = dict(net.graph.out_degree())
    owner = {}
    for node, layer in nodes.items():
        ins = layer.inputs
        if layer.kind.in_place and len(ins) == 1 and readers[ins[0]] == 1:
            owner[node] = owner[ins[0]]
        else:
            owner[node] = node
    return owner


def inference_nodes(net: Network) -> list[str]:
    """The layers an inference pass runs, in creation order: all but the side heads."""
    heads = {n for r in net.heads for n in r.nodes}
    return [n for n in net.layers if n not in heads]


def peak_live(net: Network, nodes: dict[str, Layer], owner: dict[str, str],
              elements: dict[str, int], scratch: dict[str, int]) -> int:
    """Run the inference layers in creation order. A buffer is alive from the step that
    writes it to the last step that reads it (or any layer aliasing it); the output is
    alive to the end; a layer's scratch only during its step. Returns the largest total
    of live elements at any step."""
    order = inference_nodes(net)
    last = {}
    for step, node in enumerate(order):  # steps only grow: the last assignment is the last use
        last[owner[node]] = step
        for tensor in nodes[node].inputs:
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
        peak = max(peak, live + scratch[node])
        for buffer in freed_at.get(step, ()):
            alive.remove(buffer)
            live -= elements[buffer]
    return peak
