"""Memory of a network: its weights, every activation, the peak live at inference, what
training keeps for the backward pass and the peak while that pass runs.

Memory (docs/seeing.md states the conventions at length). A tensor is one layer's output
for one image, the input image included. Element-wise layers whose kind is `in_place` in
the registry (activations, dropout) write over their input's buffer when they
are its only reader, as deep-learning frameworks do (in training, not an activation
whose backward reads its input: swish, hard-swish, GELU); every other layer allocates
one; views (identity, flatten) share their input's buffer.
A layer that holds values of its own while it runs (attention's queries, keys, values and
weights: the kind's `scratch`) adds them to the peak at its step, and training keeps them.

The totals are what a device must hold: for inference, the weights and the batch's peak
live tensors; for a training step, the weights, their gradients, the optimizer's state,
the batch's peak during the backward pass (what is kept for it, and the gradients in
flight) and its targets. benchmarks/memory_calibration.py checks them against XLA's
buffer assignment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from nnc.ir.network import Layer, Network

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
# Copies of the trainable weights an optimizer keeps between steps: plain SGD none,
# SGD with momentum its velocity, Adam its first and second moments.
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}
# What each figure includes, in the words of docs/seeing.md; the text and JSON reports
# print these.
INCLUDES = {
    "weights": "every parameter, trainable or not, side heads included",
    "activations": "every layer's output for one image, the input image included",
    "peak_live": "the most bytes of layer outputs alive at one time, "
                 "the input image and the output included, both alive throughout "
                 "(in-place layers and BatchNorm share their input's buffer)",
    "training_kept": "the layer outputs the backward pass reads, the input "
                     "image included (in-place layers share their input's buffer, but "
                     "swish, hard-swish and GELU keep their input too; dropout keeps "
                     "its mask, a byte a value; an output that only adds, concats, "
                     "reshapes and dropouts read is not kept)",
    "backward_peak": "the most bytes alive while the backward pass runs: what is kept "
                     "for it and not yet read, and the gradients of the layer outputs "
                     "in flight",
    "inference_total": "weights without side heads + batch × peak live at inference",
    "training_step_total": "weights + their gradients (trainable weights) + optimizer "
                           "state + batch × (peak of the backward pass + targets the "
                           "size of the outputs)",
}

@dataclass(frozen=True)
class Memory:
    """Bytes: weights once; the rest for one image (multiply by the batch)."""
    dtype: str
    batch: int
    weights: int
    activations: int     # every layer's output, the input image included
    peak_live: int       # inference: the most bytes of tensors alive at one time
    training_kept: int   # training: what the forward pass keeps for backward (buffers,
                         # scratch, saved values, masks)
    backward_peak: int   # training: the most alive while the backward pass runs
    trainable: int = 0   # the trainable weights: their gradients, a copy of optimizer state
    targets: int = 0     # training: one image's targets, the size of every output
    inference_weights: int = 0  # the weights without side heads

    def inference_total(self, batch: int | None = None) -> int:
        """Bytes a device holds to run the inference network on a batch."""
        return (self.inference_weights
                + (self.batch if batch is None else batch) * self.peak_live)

    def training_total(self, optimizer: str = "adam", batch: int | None = None) -> int:
        """Bytes a device holds for one training step with `optimizer`."""
        per_image = self.backward_peak + self.targets
        return (self.weights + self.trainable * (1 + OPTIMIZER_STATE[optimizer])
                + (self.batch if batch is None else batch) * per_image)

    def json(self) -> dict:
        per_image = {"activations": self.activations, "peak_live": self.peak_live,
                     "training_kept": self.training_kept,
                     "backward_peak": self.backward_peak, "targets": self.targets}
        return {"dtype": self.dtype, "bytes_per_element": DTYPE_BYTES[self.dtype],
                "batch": self.batch, "weights": self.weights,
                "trainable_weights": self.trainable,
                "inference_weights": self.inference_weights, "per_image": per_image,
                "per_batch": {k: v * self.batch for k, v in per_image.items()},
                "inference_total": self.inference_total(),
                "training_step_total": {o: self.training_total(o) for o in OPTIMIZER_STATE},
                "includes": INCLUDES}


def memory(net: Network, batch: int = 1, dtype: str = "float32") -> Memory:
    nodes = net.layers
    size = DTYPE_BYTES[dtype]
    outputs_bytes = {n: math.prod(layer.shape) * size for n, layer in nodes.items()}
    owner = buffer_owners(net, nodes, training=True)
    weights = sum(sum(layer.params) for layer in nodes.values())
    inference_weights = sum(sum(nodes[n].params) for n in inference_nodes(net))
    trainable = sum(layer.params[0] for layer in nodes.values())
    outputs = net.outputs()
    scratch = {n: size * layer.kind.scratch(
        layer.attrs, [nodes[i].shape for i in layer.inputs], layer.shape)
        for n, layer in nodes.items()}
    held = {n: held_for_backward(layer, outputs_bytes[n], scratch[n], size)
            for n, layer in nodes.items()}
    kept = kept_buffers(net, nodes, owner)
    return Memory(dtype, batch, weights * size, sum(outputs_bytes.values()),
                  peak_live(net, nodes, buffer_owners(net, nodes, training=False),
                            outputs_bytes, scratch),
                  sum(outputs_bytes[b] for b in kept) + sum(held.values()),
                  backward_peak(net, nodes, owner, outputs_bytes, kept, held),
                  trainable * size, sum(outputs_bytes[n] for n in outputs),
                  inference_weights * size)


def buffer_owners(net: Network, nodes: dict[str, Layer], training: bool) -> dict[str, str]:
    """For each layer, the layer whose buffer holds its output: itself; its input's
    owner for a view (identity, flatten), whatever else reads that input; or for an
    in-place layer that is its input's only reader, the owner of that input's buffer,
    but never the input batch's, which belongs to the caller. At inference a
    normalization (BatchNorm: a fixed affine map per channel) is such a layer too:
    runtimes fold it into the conv's weights, or apply it in place. In training a layer
    is in place only where no backward pass reads what it writes over: not swish,
    hard-swish or GELU, whose backward reads their input, nor a layer after one whose
    backward reads its own output (a dropout after a sigmoid)."""
    readers = dict(net.graph.out_degree())
    owner = {}
    for node, layer in nodes.items():
        ins = layer.inputs
        if layer.kind.view:
            owner[node] = owner[ins[0]]
            continue
        if training:
            in_place = (layer.kind.in_place and reads_for_backward(layer) != "inputs"
                        and reads_for_backward(nodes[ins[0]]) != "output")
        else:
            in_place = layer.kind.in_place or layer.kind.normalization
        if (in_place and len(ins) == 1 and readers[ins[0]] == 1
                and owner[ins[0]] != net.input):
            owner[node] = owner[ins[0]]
        else:
            owner[node] = node
    return owner


def reads_for_backward(layer: Layer) -> str:
    """"inputs", "output" or "nothing": see Kind.reads_for_backward."""
    return layer.kind.reads_for_backward(layer.attrs)


def kept_buffers(net: Network, nodes: dict[str, Layer],
                 owner: dict[str, str]) -> dict[str, int]:
    """The buffers training keeps for the backward pass, each with the step (creation
    order) of the first layer whose backward reads it: the backward pass runs the layers
    in reverse, so the buffer is freed after that layer's. Kept: the buffers a backward
    pass reads (each kind says: its input, its output or nothing), the outputs, which
    the loss reads (step: the number of layers), and the input batch, an argument of
    the step alive throughout. A BatchNorm whose output only a residual add reads keeps
    nothing of its own: its backward reads its input, the add's reads nothing (XLA and
    PyTorch alike free it)."""
    outputs = net.outputs()
    first_reader = {owner[n]: len(nodes) for n in outputs}
    for step, (node, layer) in reversed(list(enumerate(nodes.items()))):
        reads = reads_for_backward(layer)
        if reads == "output":
            first_reader[owner[node]] = step
        elif reads == "inputs":
            first_reader.update((owner[tensor], step) for tensor in layer.inputs)
    first_reader[net.input] = 0
    return first_reader


def held_for_backward(layer: Layer, output_bytes: int, scratch: int, size: int) -> int:
    """Bytes a layer holds for its own backward pass besides the graph's buffers: its
    scratch and what else its kind saves (LRN's scale); the values a weight layer
    computes before its own activation (`conv3-64(activation=swish)`) where that
    activation's backward pass reads its input (an activation layer's input is a buffer
    of the graph, kept by kept_buffers); and a random layer's mask (dropout's)."""
    kind, a = layer.kind, layer.attrs
    reads_input = not kind.in_place and kind.activation_reads_input(a)
    return (scratch + size * kind.saved(a, layer.shape)
            + (output_bytes if reads_input else 0) + kind.mask_bytes(a, layer.shape))


def backward_peak(net: Network, nodes: dict[str, Layer], owner: dict[str, str],
                  sizes: dict[str, int], kept: dict[str, int],
                  held: dict[str, int]) -> int:
    """Run the backward pass: the layers in reverse creation order, from the moment the
    loss has written the gradient of each output. Alive: the kept buffers that a layer
    still to run reads, what each such layer holds, and the gradients in flight. A
    layer's step writes the gradient of each input (one buffer per tensor, which its
    other readers add into) while the gradient of its output, which it reads, is alive,
    and then frees that one and what only it read. An in-place layer's step writes a
    new gradient too: backward passes do not write over the gradient they read. A
    tensor that no trained weight led to (the input image, its padding) gets no
    gradient. Returns the largest total of live bytes at any step."""
    freed_after = buffers_by_step(kept)
    live = sum(sizes[b] for b in kept) + sum(held.values())
    outputs = net.outputs()
    gradients = {n: sizes[n] for n in outputs}
    peak = live + sum(gradients.values())
    live -= sum(sizes[b] for b in freed_after.get(len(nodes), ()))  # the loss's
    trained = trained_through(nodes)
    for step, (node, layer) in reversed(list(enumerate(nodes.items()))):
        for tensor in layer.inputs:
            if trained[tensor]:
                gradients.setdefault(tensor, sizes[tensor])
        peak = max(peak, live + sum(gradients.values()))
        gradients.pop(node, None)
        live -= held[node] + sum(sizes[b] for b in freed_after.get(step, ()))
    return peak


def buffers_by_step(steps: dict[str, int]) -> dict[int, list[str]]:
    """The buffers freed after each step, from the step after which each is freed."""
    freed: dict[int, list[str]] = {}
    for buffer, step in steps.items():
        freed.setdefault(step, []).append(buffer)
    return freed


def trained_through(nodes: dict[str, Layer]) -> dict[str, bool]:
    """Whether a trainable weight lies on some path from the input to each layer's
    output, so that the backward pass computes the output's gradient."""
    trained = {}
    for node, layer in nodes.items():
        trained[node] = layer.params[0] > 0 or any(trained[i] for i in layer.inputs)
    return trained


def inference_nodes(net: Network) -> list[str]:
    """The layers an inference pass runs, in creation order: all but the side heads."""
    heads = {n for r in net.heads for n in r.nodes}
    return [n for n in net.layers if n not in heads]


def peak_live(net: Network, nodes: dict[str, Layer], owner: dict[str, str],
              sizes: dict[str, int], scratch: dict[str, int]) -> int:
    """Run the inference layers in creation order. A buffer is alive from the step that
    writes it to the last step that reads it (or any layer aliasing it); the input batch
    and the output are alive throughout, as the caller holds them; a layer's scratch
    only during its step. Returns the largest total of live bytes at any step."""
    order = inference_nodes(net)
    last = {}
    for step, node in enumerate(order):  # steps only grow: the last assignment is the last use
        last[owner[node]] = step
        for tensor in nodes[node].inputs:
            last[owner[tensor]] = step
    last[owner[net.output]] = last[net.input] = len(order)  # the caller holds both
    freed_at = buffers_by_step(last)
    alive, live, peak = set(), 0, 0  # live: the bytes of the alive buffers
    for step, node in enumerate(order):
        if owner[node] not in alive:
            alive.add(owner[node])
            live += sizes[owner[node]]
        peak = max(peak, live + scratch[node])
        for buffer in freed_at.get(step, ()):
            alive.remove(buffer)
            live -= sizes[buffer]
    return peak


@dataclass(frozen=True)
class Fit:
    """The largest batch whose total fits a budget (0: not even one image fits), the
    total at that batch, what is left of the budget, and the total for one image."""
    batch: int
    total: int
    headroom: int
    one_image: int

    def json(self) -> dict:
        return {"batch": self.batch, "total": self.total, "headroom": self.headroom,
                "one_image_total": self.one_image}


def largest_batch(budget: int, fixed: int, per_image: int) -> Fit:
    """The most images whose `per_image` bytes fit beside `fixed` bytes in `budget`."""
    batch = max(0, (budget - fixed) // per_image) if per_image else 0
    total = fixed + batch * per_image
    return Fit(batch, total, budget - total, fixed + per_image)


def fits(m: Memory, budget: int, optimizer: str) -> dict[str, Fit]:
    """The largest training batch (one step with `optimizer`) and inference batch that
    fit `budget` bytes by nnc's totals."""
    training_fixed = m.training_total(optimizer, batch=0)
    return {"training": largest_batch(budget, training_fixed,
                                      m.training_total(optimizer, batch=1) - training_fixed),
            "inference": largest_batch(budget, m.inference_weights, m.peak_live)}
