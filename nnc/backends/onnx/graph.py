"""The checked graph to an ONNX model, with no TensorFlow and no Keras: one group of
nodes per layer, made by the lowering table (lowering.py), in the graph's order.

The model checks itself against what `nnc stats` computed, as the Keras model does:
onnx.checker's full check (which runs shape inference), every layer's output shape
(channels first inside, as emit.py explains), and every layer's weights against its
parameters. A difference is a bug in nnc, raised as LoweringError, never a user error.

The model carries the network: its doc string names the file and network, the
`nnc.source` metadata holds the .arch text, and each layer's nodes have the row and the
position (file:line:col) that wrote it as their doc string.
"""
from __future__ import annotations

import math

import onnx
from onnx import helper

from nnc.backends.onnx.emit import (
    TO_CHANNELS_LAST,
    Emitter,
    Site,
    channels_first,
    is_map,
)
from nnc.backends.onnx.lowering import LOWERINGS

OPSET = 17  # LayerNormalization; onnxruntime 1.17 and later run it
IR_VERSION = 8  # what onnxruntime 1.17 reads


class LoweringError(Exception):
    """The ONNX model differs from the checked graph: an internal error of nnc."""


def to_onnx(compiled, heads: bool = True, trained: dict | None = None,
            seed: int = 0) -> onnx.ModelProto:
    """The ONNX model of a compiled network, with the side heads as extra outputs after
    the main one unless heads=False. `trained`: weights by layer name, in Keras's order
    (nnc.backends.keras.weights.weights_by_layer); without them, drawn as Keras would."""
    net = compiled.network
    skipped = set() if heads else {n for row in net.heads for n in row.nodes}
    outputs = net.outputs(heads)
    emitter = Emitter(trained, seed)
    tensors = {}
    for node, layer in net.layers.items():
        if node not in skipped:
            tensors[node] = lower_layer(emitter, net, layer, tensors)
    graph_outputs = [output_tensor(emitter, tensors[n], net.shape(n)) for n in outputs]
    graph = helper.make_graph(
        emitter.nodes, net.name,
        [helper.make_tensor_value_info(net.input, onnx.TensorProto.FLOAT,
                                       ["batch", *net.shape(net.input)])],
        [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch", *net.shape(n)])
         for name, n in zip(graph_outputs, outputs)],
        emitter.initializers)
    model = helper.make_model(graph, producer_name="nnc", doc_string=f"{net.name} ({net.file})",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"nnc.source": net.source, "nnc.network": net.name})
    verify(model, compiled, tensors, emitter.weights, skipped)
    return model


def lower_layer(emitter: Emitter, net, layer, tensors) -> str:
    emitter.doc = f"row {layer.row} {layer.coord}" if layer.row else str(layer.coord)
    site = Site(layer.kind, layer.attrs, layer.name, [net.shape(i) for i in layer.inputs],
                [tensors[i] for i in layer.inputs], layer.shape)
    try:
        return LOWERINGS[layer.kind.name](emitter, site)
    except ValueError as e:  # weights that do not fit: the trained model is another network
        raise LoweringError(f"{layer.name} at {layer.coord}: {e}") from e


def output_tensor(emitter: Emitter, tensor: str, shape) -> str:
    """Maps leave channels last, as nnc's shapes (and Keras) have them."""
    if is_map(shape):
        return emitter.transpose(tensor, TO_CHANNELS_LAST, f"{tensor}/channels_last")
    return tensor


def verify(model, compiled, tensors: dict, weights: dict, skipped: set) -> None:
    layers = compiled.network.layers
    try:
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise LoweringError(f"{compiled.network.name}: onnx.checker refuses the model: "
                            f"{e}") from e
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*inferred.graph.value_info, *inferred.graph.input,
                        *inferred.graph.output)}
    for node, tensor in tensors.items():
        expected = list(channels_first(layers[node].shape))
        if shapes.get(tensor, [None])[1:] != expected[1:]:  # also where none was inferred
            raise LoweringError(f"{node} at {layers[node].coord}: the ONNX output is "
                                f"{shapes.get(tensor, 'not inferred')} but nnc computed "
                                f"{expected}")
    for node, layer in layers.items():
        held = sum(math.prod(w.shape) for w in weights.get(node, []))
        if node not in skipped and held != sum(layer.params):
            raise LoweringError(f"{node} at {layer.coord}: the ONNX weights hold {held:,} "
                                f"values but nnc counted {sum(layer.params):,} parameters")
