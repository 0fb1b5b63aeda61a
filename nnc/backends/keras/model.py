"""Lowering: the checked graph to a Keras 3 functional model that is exactly the network.

Each node becomes the Keras layer(s) that the lowering table (lowering.py) makes for its
kind, named after the node (`conv4_x.3.conv2`, or `conv4_x.3.conv2.pad` for a helper layer), so that
`model.summary()` and Keras's error messages point back to the .arch file. Lowering uses
keras.layers and keras.ops only, so a model runs on every Keras backend.

The model checks itself against what `nnc stats` computed: every node's output shape,
every node's trainable and non-trainable parameters, and the totals. A difference is a
bug in nnc (a shape or params rule that disagrees with its lowering), raised as a
LoweringError naming the node and its position; it is never a user error.
"""
from __future__ import annotations

import math

from nnc.backends.keras.lowering import LOWERINGS
from nnc.backends.keras.runtime import import_keras
from nnc.ir.network import Layer
from nnc.wording import dims

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "float64")


class LoweringError(Exception):
    """The Keras model differs from the checked graph: an internal error of nnc."""


def to_keras(compiled, heads: bool = True, precision: str = "float32", jit: bool = False):
    """The Keras model of a compiled network.

    heads: the side heads (GoogLeNet's auxiliary classifiers) as extra outputs, after the
    main one, in file order; False gives the inference model. precision: a Keras dtype
    policy for every layer; under mixed precision the logits and softmax stay float32.
    float64 is for checking numerics: two orders of the same sums that float32 rounds
    apart agree to 1e-15 (deep networks at random weights amplify rounding). jit: compile
    the model with jit_compile=True, so Keras runs it through XLA (a saved model keeps
    it: predict and evaluate after load_model use XLA)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}. "
                         f"Received: precision={precision!r}")
    keras = import_keras()
    net = compiled.network
    skipped = set() if heads else {n for row in net.heads for n in row.nodes}
    outputs = net.outputs(heads)
    tensors = lower_nodes(net, skipped, float32_nodes(net, outputs), precision, keras)
    model = keras.Model(tensors[net.input], [tensors[n] for n in outputs]
                        if len(outputs) > 1 else tensors[net.output], name=net.name)
    verify(model, compiled, tensors, heads)
    if jit:
        # Plain SGD has no slot variables: a placeholder that keeps the saved file the size
        # of the weights and reloads without warnings. Training compiles again anyway.
        model.compile(optimizer="sgd", jit_compile=True)
    return model


def float32_nodes(net, outputs) -> set[str]:
    """The outputs, and the logits that feed a softmax output: kept in float32 under
    mixed precision, as the Keras mixed-precision guide advises, so that the
    probabilities and the loss computed on them do not lose precision."""
    keep = set(outputs)
    for node in outputs:
        layer = net.layers[node]
        if layer.kind.minor and layer.kind.outputs(layer.attrs) == "probabilities":
            keep.update(layer.inputs)  # a softmax layer of its own: keep its logits too
    return keep


def lower_nodes(net, skipped, float32, precision, keras) -> dict:
    """Keras tensors by node, made in insertion order, which is topological."""
    tensors = {}
    previous = keras.config.dtype_policy()
    try:
        for node, layer in net.layers.items():
            if node in skipped:
                continue
            # Layers take the global policy when they are made: set it per node.
            keep_float32 = precision.startswith("mixed") and node in float32
            keras.config.set_dtype_policy("float32" if keep_float32 else precision)
            tensors[node] = lower_node(net, layer, tensors, keras)
    finally:
        keras.config.set_dtype_policy(previous)
    return tensors


def lower_node(net, layer: Layer, tensors, keras):
    kind = layer.kind
    in_shapes = [net.shape(i) for i in layer.inputs]
    ins = [tensors[i] for i in layer.inputs]
    try:
        made = LOWERINGS[kind.name](kind, layer.attrs, layer.name, in_shapes, keras)
        if kind.arity == 0:  # the input: keras.Input is a tensor, not a layer to call
            return made
        return made(ins if kind.arity is None else ins[0])
    except Exception as e:  # Keras refusing a layer nnc checked is a bug in nnc
        raise LoweringError(f"{where(layer)}: Keras rejects the {kind.name} layer: "
                            f"{type(e).__name__}: {e}") from e


def where(layer: Layer) -> str:
    return f"{layer.name} at {layer.coord}"


# --- verification ---------------------------------------------------------------------

def verify(model, compiled, tensors, heads: bool) -> None:
    layers = compiled.network.layers
    for node, tensor in tensors.items():
        expected, got = layers[node].shape, tuple(tensor.shape[1:])
        if got != tuple(expected):
            raise LoweringError(f"{where(layers[node])}: the Keras output is "
                                f"{dims(got)} but nnc computed {dims(expected)}")
    counted = params_by_node(model, layers)
    for node in tensors:
        expected = tuple(layers[node].params)
        if counted.get(node, (0, 0)) != expected:
            raise LoweringError(
                f"{where(layers[node])}: Keras counts {counted.get(node, (0, 0))} "
                f"(trainable, non-trainable) parameters but nnc counted {expected}")
    totals = compiled.stats.totals if heads else compiled.stats.main
    got = (model.count_params(), weight_count(model.trainable_weights),
           weight_count(model.non_trainable_weights))
    if got != (totals.params, totals.trainable, totals.non_trainable):
        raise LoweringError(f"{compiled.network.name}: Keras counts {got[0]:,} parameters "
                            f"({got[1]:,} trainable), nnc stats {totals.params:,} "
                            f"({totals.trainable:,} trainable)")


def params_by_node(model, graph: dict) -> dict[str, tuple[int, int]]:
    """(trainable, non-trainable) weights of the layers of each node: the layer named
    after the node and its helpers (`<node>.pad`, `<node>.flatten`)."""
    counts: dict[str, tuple[int, int]] = {}
    for layer in model.layers:
        node = layer.name if layer.name in graph else layer.name.rpartition(".")[0]
        if node not in graph:
            raise LoweringError(f"Keras layer '{layer.name}' is named after no node of "
                                f"the network")
        trainable, frozen = counts.get(node, (0, 0))
        counts[node] = (trainable + weight_count(layer.trainable_weights),
                        frozen + weight_count(layer.non_trainable_weights))
    return counts


def weight_count(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)
