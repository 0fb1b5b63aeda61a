"""The Keras raising table, the lowering table read backwards: for each Keras layer class,
the nnc kind and attributes that lower to it (nnc/backends/keras/lowering.py), read from
the layer's config; the functional graph's edges from each layer's inbound node.

A layer whose class or options the language has no kind for is collected as an
Unsupported (its name, its class, why), never approximated. Explicit padding that the
lowering writes as a padding layer before a 'valid' conv or pool (ZeroPadding2D, nnc's
ConstantPadding2D) is read back into that layer's `padding`, as is the flattening
before an fc with a spatial input (`NAME.flatten`, which an fc does itself).
"""
from __future__ import annotations

from nnc.errors import NncError
from nnc.ir.kinds.base import ACTIVATIONS
from nnc.present.imported import Imported, Node, Unsupported, fold_padding

KERAS_ACTIVATIONS = {"linear": "none", "silu": "swish", "hard_silu": "hard_swish",
                     "nnc>gelu": "gelu", "nnc>squash": "squash",
                     **{name: name for name in ACTIVATIONS}}


class Unreadable(Exception):
    """A layer the language cannot express; the message says why."""


def activation_of(config) -> str:
    name = config.get("activation", "linear")
    if isinstance(name, dict):  # a serialized function
        name = name.get("config", name.get("class_name"))
    if name not in KERAS_ACTIVATIONS:
        raise Unreadable(f"activation '{name}' has no nnc kind")
    return KERAS_ACTIVATIONS[name]


def pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def window(config, ins, out, kernel_key: str) -> dict:
    """Kernel, stride, padding and rounding of a sliding layer; 'valid' windows that drop
    the last rows get rounding=floor (exact would be an error)."""
    kernel, stride = pair(config[kernel_key]), pair(config["strides"] or config[kernel_key])
    if pair(config.get("dilation_rate", 1)) != (1, 1):
        raise Unreadable("dilated convolution has no nnc kind")
    if config.get("data_format", "channels_last") != "channels_last":
        raise Unreadable("only channels-last maps are read")
    rounding, padding = "exact", config["padding"]
    if kernel == (1, 1):  # a 1×1 window: 'valid' and 'same' are the same positions
        padding = "same"
    if padding == "valid" and any(
            (n - k) % s for n, k, s in zip(ins[0][:2], kernel, stride)):
        rounding = "floor"
    return {"kernel": kernel, "stride": stride, "padding": padding, "rounding": rounding}


def conv2d(c, ins, out):
    """Keras's Conv2D, grouped or not, and nnc's GroupedConv2D: the same function."""
    return "conv", {**window(c, ins, out, "kernel_size"), "filters": c["filters"],
                    "groups": c.get("groups", 1), "bias": c["use_bias"],
                    "activation": activation_of(c)}


def table_conv2d(c, ins, out):
    """nnc's TableConv2D: a conv whose connection table says which maps each filter sees
    (LeNet-5's C3)."""
    kind, attrs = conv2d(c, ins, out)
    return kind, {**attrs, "table": tuple(c["table"])}


def subsample(c, ins, out):
    """nnc's Subsample: LeCun's trainable subsampling, 'valid' windows."""
    size, stride = pair(c["pool_size"]), pair(c["strides"] or c["pool_size"])
    rounding = "floor" if any((n - k) % s for n, k, s in zip(ins[0][:2], size, stride)) \
        else "exact"
    return "subsample", {"size": size, "stride": None if stride == size else stride,
                         "rounding": rounding, "activation": activation_of(c)}


def depthwise_conv2d(c, ins, out):
    return "dwconv", {**window(c, ins, out, "kernel_size"), "multiplier": c["depth_multiplier"],
                      "bias": c["use_bias"], "activation": activation_of(c)}


def separable_conv2d(c, ins, out):
    return "sepconv", {**window(c, ins, out, "kernel_size"), "filters": c["filters"],
                       "multiplier": c["depth_multiplier"], "bias": c["use_bias"],
                       "activation": activation_of(c)}


def transposed_conv2d(c, ins, out):
    if c["padding"] != "valid" or pair(c.get("dilation_rate", 1)) != (1, 1) or \
            c.get("output_padding") is not None:
        raise Unreadable("a transposed conv with padding, dilation or output padding")
    return "upconv", {"kernel": pair(c["kernel_size"]), "filters": c["filters"],
                      "stride": None if pair(c["strides"]) == pair(c["kernel_size"])
                      else pair(c["strides"]), "bias": c["use_bias"],
                      "activation": activation_of(c)}


def cropping(c, ins, out):
    """A centred crop: read only as the crop of a skip (`skip(row, crop=true)`)."""
    (top, bottom), (left, right) = (pair(p) for p in c["cropping"])
    if (top, left) != (bottom, right):
        raise Unreadable("a crop that is not centred")
    return "crop", {"height": out[0], "width": out[1]}


def pooling(kind: str):
    def read(c, ins, out):
        w = window(c, ins, out, "pool_size")
        stride = None if w["stride"] == w["kernel"] else w["stride"]  # the size, by default
        return kind, {"size": w["kernel"], "stride": stride, "padding": w["padding"],
                      "rounding": w["rounding"]}
    return read


def global_average(c, ins, out):
    if c.get("keepdims"):
        raise Unreadable("a global pool that keeps 1×1 maps; nnc's gives a vector")
    return "avgpool", {"size": None}


def dense(c, ins, out):
    """nnc's fc on a vector, or on each token of a sequence (the transformer's MLP)."""
    if len(ins[0]) > 2:
        raise Unreadable("Dense on maps applies per position; nnc's fc flattens maps first")
    return "fc", {"units": c["units"], "bias": c["use_bias"], "activation": activation_of(c)}


def batch_norm(c, ins, out):
    axis = c["axis"][0] if isinstance(c["axis"], (list, tuple)) else c["axis"]
    if axis not in (-1, len(ins[0])) or not c["center"]:
        raise Unreadable("batchnorm over another axis than the channels, or without β")
    return "bn", {"epsilon": c["epsilon"], "momentum": c["momentum"], "scale": c["scale"]}


def zero_padding(c, ins, out):
    """Even padding is a zeropad; uneven padding is read only where it folds into the
    conv after it as 'same' (fold_padding), and reported where it does not."""
    (top, bottom), (left, right) = (pair(p) for p in c["padding"])
    return "zeropad", {"size": (top, left) if (top, left) == (bottom, right) else None}


def constant_padding(c, ins, out):
    """nnc's −∞ border of a max pool: read only into the max pool after it."""
    (top, bottom), (left, right) = (pair(p) for p in c["padding"])
    if c["value"] != float("-inf") or (top, left) != (bottom, right):
        raise Unreadable("padding with a constant other than zero, or uneven")
    return "zeropad", {"size": (top, left)}


def standardize(c, ins, out):
    """nnc's Normalization: constants where the file gave them, else measured."""
    if c["mean"] is None:
        return "normalize", {}
    return "normalize", {"mean": tuple(c["mean"]),
                         "std": tuple(v ** 0.5 for v in c["variance"])}


def activation_layer(c, ins, out):
    name = activation_of(c)
    if name == "none":
        return "identity", {}
    return name, {}


def relu(c, ins, out):
    if c.get("negative_slope") or c.get("threshold"):
        raise Unreadable("a leaky or thresholded ReLU has no nnc kind")
    if c.get("max_value") in (None, 6, 6.0):
        return ("relu" if c.get("max_value") is None else "relu6"), {}
    raise Unreadable(f"ReLU with max_value={c['max_value']} has no nnc kind")


def softmax(c, ins, out):
    if c.get("axis", -1) != -1:
        raise Unreadable("a softmax over another axis than the channels")
    return "softmax", {}


def attention(c, ins, out):
    """Keras's MultiHeadAttention as nnc lowers it: self-attention, its output D wide;
    the head size left to its default (D/h) where it is that. A built layer's attention
    axes are the tokens' axis, (1,)."""
    if c.get("value_dim") not in (None, c["key_dim"]) or c.get("output_shape") or \
            c.get("attention_axes") not in (None, (1,), [1]) or c.get("use_gate") or \
            c.get("sliding_window") is not None:
        raise Unreadable("attention with its own value size, output shape, axes, gate or "
                         "window")
    d = ins[0][-1]
    key_size = None if c["key_dim"] * c["num_heads"] == d else c["key_dim"]
    return "attention", {"heads": c["num_heads"], "key_size": key_size,
                         "bias": c["use_bias"], "dropout": c["dropout"]}


def joined(kind: str):
    def read(c, ins, out):
        if c.get("axis", -1) not in (-1, len(ins[0])):
            raise Unreadable("a concatenation along another axis than the channels")
        return kind, {}
    return read


# The layers nnc's lowering adds beside a layer, named after it: the flattening before
# an fc on maps (which an fc does itself), the reshape of a gate's vector to 1×1×C, and
# the reading of a patch embedding's grid as tokens (which makes its conv a `patch`).
HELPERS = {("Flatten", "flatten"), ("Reshape", "reshape"), ("Reshape", "tokens")}
PATCHES = ("Reshape", "tokens")
# Layers called with one tensor as several arguments: self-attention's query and value.
SELF_APPLIED = {"MultiHeadAttention"}

RAISINGS = {
    "Conv2D": conv2d,
    "GroupedConv2D": conv2d,
    "TableConv2D": table_conv2d,
    "Subsample": subsample,
    "EuclideanRBF": lambda c, ins, out: ("rbf", {
        "units": c["units"], "codes": None if c["codes"] is None else tuple(c["codes"]),
        "seed": c["seed"]}),
    "DepthwiseConv2D": depthwise_conv2d,
    "SeparableConv2D": separable_conv2d,
    "MaxPooling2D": pooling("maxpool"),
    "AveragePooling2D": pooling("avgpool"),
    "GlobalAveragePooling2D": global_average,
    "Dense": dense,
    "Flatten": lambda c, ins, out: ("flatten", {}),
    "BatchNormalization": batch_norm,
    "ZeroPadding2D": zero_padding,
    "ConstantPadding2D": constant_padding,
    "LocalResponseNorm": lambda c, ins, out: ("lrn", {k: c[k] for k in
                                                      ("size", "alpha", "beta", "k")}),
    "Standardize": standardize,
    "LayerScale": lambda c, ins, out: ("layerscale", {"init": c["init"]}),
    "ZeroPadShortcut": lambda c, ins, out: ("pad_shortcut", {
        "stride": c["stride"], "channels": ins[0][-1] + c["extra"]}),
    "ClassToken": lambda c, ins, out: ("classtoken", {}),
    "PositionEmbedding": lambda c, ins, out: ("posembed", {}),
    "TakeToken": lambda c, ins, out: ("token", {"index": c["index"]}),
    "MultiHeadAttention": attention,
    "Dropout": lambda c, ins, out: ("dropout", {"rate": c["rate"]}),
    "Identity": lambda c, ins, out: ("identity", {}),
    "Activation": activation_layer,
    "ReLU": relu,
    "Softmax": softmax,
    "Rescaling": lambda c, ins, out: ("rescale", {"scale": c["scale"], "offset": c["offset"]}),
    "LayerNormalization": lambda c, ins, out: ("layernorm", {"epsilon": c["epsilon"]}),
    "UpSampling2D": lambda c, ins, out: ("upsample", {"size": pair(c["size"]),
                                                      "interpolation": c["interpolation"]}),
    "Conv2DTranspose": transposed_conv2d,
    "Cropping2D": cropping,
    "Add": joined("add"),
    "Concatenate": joined("concat"),
    "Multiply": joined("multiply"),
}


def shape_of(tensor) -> tuple[int, ...]:
    return tuple(tensor.shape[1:])


def from_keras(model) -> Imported:
    """The functional Keras model as nnc kinds, with its counts."""
    if len(model.inputs) != 1:
        raise NncError(f"a network has one input; '{model.name}' has {len(model.inputs)}. "
                       f"Received: {', '.join(t.name for t in model.inputs)}")
    nodes, unsupported, renamed = {}, [], {}
    for layer in model.layers:
        node = read_layer(layer, renamed, unsupported)
        if node is not None:
            nodes[node.name] = node
        elif (type(layer).__name__, layer.name.rpartition(".")[2]) == PATCHES:
            read_patches(nodes, renamed[layer.name], shape_of(layer.output))
    fold_padding(nodes, unsupported, PADDED_BY, kept=("ZeroPadding2D",))
    outputs = [renamed.get(t._keras_history[0].name, t._keras_history[0].name)
               for t in model.outputs]
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    total = model.count_params()
    source = model.inputs[0]._keras_history[0].name
    return Imported(model.name, nodes, source, outputs, unsupported,
                    (trainable, total - trainable))


def read_layer(layer, renamed: dict, unsupported: list) -> Node | None:
    """One layer as a Node; a helper folded into its reader gives None (its readers
    take its input), and an unreadable layer is collected and passed through."""
    cls = type(layer).__name__
    if len(layer._inbound_nodes) != 1:
        unsupported.append(Unsupported(layer.name, cls, "a layer applied more than once "
                                                         "(shared weights)"))
    inbound = layer._inbound_nodes[0]
    inputs = tuple(renamed.get(t._keras_history[0].name, t._keras_history[0].name)
                   for t in inbound.input_tensors)
    if cls in SELF_APPLIED:
        inputs = tuple(dict.fromkeys(inputs))
    if cls == "InputLayer":
        shape = shape_of(layer.output)
        if None in shape:
            raise_unsized(layer)
        return Node(layer.name, "input", {"shape": shape}, (), shape, cls)
    ins = [shape_of(t) for t in inbound.input_tensors]
    out = shape_of(layer.output)
    if (cls, layer.name.rpartition(".")[2]) in HELPERS:  # nnc's helper of the layer before
        renamed[layer.name] = inputs[0]
        return None
    try:
        if cls not in RAISINGS:
            raise Unreadable("no nnc kind is lowered to this Keras layer")
        if len(inputs) > 1 and cls in SELF_APPLIED:
            raise Unreadable("attention of one sequence over another (nnc's is self-"
                             "attention)")
        kind, attrs = RAISINGS[cls](layer.get_config(), ins, out)
    except Unreadable as why:
        unsupported.append(Unsupported(layer.name, cls, str(why)))
        kind, attrs = "identity", {}
    return Node(layer.name, kind, attrs, inputs, out, cls)


def read_patches(nodes: dict, name: str, tokens: tuple[int, ...]) -> None:
    """The conv before a patch embedding's reshape to tokens, read as the `patch`: a P×P
    conv with stride P, 'valid', biased and linear, as nnc lowers it."""
    conv = nodes[name]
    a = conv.attrs
    if conv.kind != "conv" or a["stride"] != a["kernel"] or not a["bias"] or \
            a["groups"] != 1 or a["activation"] != "none":
        return  # left a conv, whose reshape the fold reports
    nodes[name] = Node(name, "patch", {"size": a["kernel"], "features": a["filters"]},
                       conv.inputs, tokens, conv.op)


def raise_unsized(layer):
    raise NncError(f"the model's input '{layer.name}' has no fixed size; build it with one "
                   f"(input_shape=(224, 224, 3)). Received: {shape_of(layer.output)}")


PADDED_BY = {"ZeroPadding2D": ("conv", "dwconv", "sepconv", "avgpool"),
             "ConstantPadding2D": ("maxpool",)}


def with_weights(source, text: str, name: str):
    """The imported network's Keras model, lowered from its .arch text, holding the
    source model's weights (copied layer by layer in graph order, as copy_weights
    matches two models of one network)."""
    from nnc.analysis.compiled import compile_text
    from nnc.backends.keras.model import to_keras
    from nnc.backends.keras.weights import copy_weights
    model = to_keras(compile_text(text, name))
    copy_weights(source, model)
    return model


def save_weights(source, text: str, name: str, path: str) -> None:
    """Write the imported network's Keras model with the source's weights to `path`
    (a .keras file), atomically."""
    from nnc.present.output import atomic_output
    model = with_weights(source, text, name)
    with atomic_output(path) as temporary:
        model.save(temporary)
