"""Copy the weights of one Keras model into another model of the same network, such as
keras.applications.ResNet50 into the model nnc builds from a Keras-layout .arch file, so
that both compute the same function: the lowering tests check that they do, and the
benchmarks time both on equal terms.

The two models name their layers differently and may make them in another order (Keras
makes a residual's projection before its body, nnc after it), so layers are paired by
position in the graph: by depth (the longest chain of layers from the input), then by
the shapes of their weights. Two models of the same graph share that order. Imports
nothing itself; the models come from Keras. weights_by_layer gives a model's weights by
layer name, for the ONNX backend.
"""
from __future__ import annotations

import math


def keras_parents(inbound) -> list[str]:
    """The layers a layer's config says it is called on (its `keras_history` entries)."""
    if isinstance(inbound, dict):
        found = [inbound["keras_history"][0]] if "keras_history" in inbound else []
        return found + [p for v in inbound.values() for p in keras_parents(v)]
    if isinstance(inbound, (list, tuple)):
        return [p for v in inbound for p in keras_parents(v)]
    return []


def weighted_layers_in_graph_order(model) -> list:
    """Layers with weights, ordered by their depth in the model's graph and then by the
    shapes of their weights."""
    depth = {}
    for layer in model.get_config()["layers"]:
        parents = keras_parents(layer["inbound_nodes"])
        depth[layer["name"]] = 1 + max((depth[p] for p in parents), default=0)
    placed = []  # (depth, place inside a nested model, weight shapes, layer)
    for layer in model.layers:
        # keras.applications' ConvNeXt nests Sequential models (its stem is a conv and a
        # LayerNorm): their layers take their turn in the nested order.
        inner = layer.layers if hasattr(layer, "layers") else [layer]
        placed += [(depth[layer.name], i, [tuple(w.shape) for w in sub.weights], sub)
                   for i, sub in enumerate(inner) if sub.weights]
    return [entry[-1] for entry in sorted(placed, key=lambda entry: entry[:3])]


def copy_weights(source, target) -> None:
    """Set every weight of `target` to the weight at the same place in `source`. Raises
    ValueError, naming the layers, where the two models are not the same network."""
    theirs, ours = weighted_layers_in_graph_order(source), weighted_layers_in_graph_order(target)
    if len(theirs) != len(ours):
        raise ValueError(f"the models are not the same network: {source.name} has "
                         f"{len(theirs)} layers with weights, {target.name} {len(ours)}")
    for a, b in zip(theirs, ours):
        weights = held_as(a, b)
        shapes = [w.shape for w in weights], [tuple(w.shape) for w in b.weights]
        if not (same_kind(a, b) and same_sizes(*shapes)):
            raise ValueError(f"layer {a.name} ({type(a).__name__}, weights {shapes[0]}) "
                             f"does not match layer {b.name} at the same place "
                             f"({type(b).__name__}, weights {shapes[1]})")
        b.set_weights([w.reshape(shape) for w, shape in zip(weights, shapes[1])])


def held_as(a, b) -> list:
    """a's weights as b holds them: nnc's GroupedConv2D holds a kernel and a bias per
    group, in turn, where Keras's grouped Conv2D holds one of each."""
    import numpy as np
    weights = a.get_weights()
    kinds = type(a).__name__, type(b).__name__
    if kinds == ("Conv2D", "GroupedConv2D"):
        split = [np.split(w, b.groups, axis=-1) for w in weights]
        return [piece[g] for g in range(b.groups) for piece in split]
    if kinds == ("GroupedConv2D", "Conv2D"):
        return joined_groups(a)
    return weights


def joined_groups(layer) -> list:
    """A GroupedConv2D's weights as one grouped Conv2D holds them: its groups' kernels
    (and biases) joined along the filters."""
    import numpy as np
    weights = layer.get_weights()
    per_group = len(weights) // layer.groups
    return [np.concatenate(weights[i::per_group], axis=-1) for i in range(per_group)]


def weights_by_layer(model, network) -> dict:
    """The weights of each layer of the network that has any, as the Keras layer named
    after it holds them (what the ONNX backend takes), with a grouped conv's groups
    joined, and a conv with one group per input map, which Keras computes as a
    DepthwiseConv2D (kh×kw×C×m), given the kernel of a grouped conv (kh×kw×1×C·m: the
    same numbers in the same order)."""
    found = {}
    for node, layer in network.layers.items():
        if not sum(layer.params):
            continue
        held = model.get_layer(node)
        weights = joined_groups(held) if type(held).__name__ == "GroupedConv2D" \
            else held.get_weights()
        if type(held).__name__ == "DepthwiseConv2D" and "groups" in layer.attrs:
            kh, kw, c, m = weights[0].shape
            weights[0] = weights[0].reshape(kh, kw, 1, c * m)
        found[node] = weights
    return found


DENSE_LIKE = {"Dense", "Conv2D"}  # a 1×1 conv on a 1×1 map is a dense layer
DEPTHWISE_LIKE = {"DepthwiseConv2D", "Conv2D"}  # groups = input maps: depthwise
STANDARDIZE = {"Normalization", "Standardize"}  # nnc's has the same weights
GROUPED = {"Conv2D", "GroupedConv2D"}  # nnc's computes the same op another way


def same_kind(a, b) -> bool:
    """The same layer type (by name: keras.applications' ConvNeXt has a LayerScale of
    its own, as nnc does), a dense layer and a 1×1 conv (keras.applications' MobileNets
    end in a 1×1 conv where their papers print an FC layer), a conv with a group per
    input map and a depthwise conv (ConvNeXt), Keras's input Normalization and nnc's
    (EfficientNet), or Keras's grouped Conv2D and nnc's."""
    names = {type(a).__name__, type(b).__name__}
    if len(names) == 1 or names == GROUPED:
        return True
    if names == DENSE_LIKE:
        return all(getattr(layer, "kernel_size", (1, 1)) == (1, 1) for layer in (a, b))
    if names == DEPTHWISE_LIKE:
        conv = a if type(a).__name__ == "Conv2D" else b
        return conv.groups == conv.input.shape[-1]
    return names == STANDARDIZE


def same_sizes(ours: list, theirs: list) -> bool:
    """Weights that hold the same numbers, up to a reshape of the same size."""
    return len(ours) == len(theirs) and all(
        math.prod(x) == math.prod(y) for x, y in zip(ours, theirs)) and all(
        tuple(d for d in x if d != 1) == tuple(d for d in y if d != 1)
        for x, y in zip(ours, theirs))
