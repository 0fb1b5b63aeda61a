"""The Keras lowering table: for every layer kind, the function that makes its Keras
layer (or the few layers it takes), named after the node.

Each function takes (kind, attrs, name, input shapes, keras) and returns a callable on
tensors; keras is passed in, so importing this module never imports Keras. The table
must cover every kind of nnc.ir.kinds.KINDS: a kind without a lowering is a bug in nnc,
caught when this module is imported, never when a user's network meets it.
"""
from __future__ import annotations

from nnc.backends import check_coverage
from nnc.ir.kinds.base import ACTIVATIONS, ceil_overhang


def padding_layer(kind, a, name, keras):
    """Explicit padding becomes a padding layer before a 'valid' layer: ZeroPadding2D,
    or nnc's ConstantPadding2D where the kind's border is not zero (max pooling's −∞)."""
    if a["padding"] in ("same", "valid"):
        return (lambda t: t), a["padding"]
    if kind.border == 0:
        return keras.layers.ZeroPadding2D(a["padding"], name=f"{name}.pad"), "valid"
    from nnc.backends.keras.layers import ConstantPadding2D
    return ConstantPadding2D(a["padding"], kind.border, name=f"{name}.pad"), "valid"


def activation(name: str):
    """Keras knows every name in ACTIVATIONS but LeCun's squash, which nnc supplies, as
    it supplies a GELU that exports to ONNX."""
    if name in ("squash", "gelu"):
        from nnc.backends.keras import layers
        return getattr(layers, name)
    return None if name == "none" else name


def conv(kind, a, name, ins, keras):
    pad, padding = padding_layer(kind, a, name, keras)
    if a["table"] is None and 1 < a["groups"] == ins[0][-1]:
        # One group per input map is a depthwise conv: Keras runs DepthwiseConv2D with a
        # kernel of its own, where a grouped Conv2D goes through a slow path (XLA under
        # TensorFlow). Same weights, same output order (map c's filters are c·m … c·m+m-1).
        layer = keras.layers.DepthwiseConv2D(
            a["kernel"], strides=a["stride"], padding=padding,
            depth_multiplier=a["filters"] // a["groups"], use_bias=a["bias"],
            activation=activation(a["activation"]), name=name)
    elif a["table"] is not None:
        from nnc.backends.keras.layers import TableConv2D
        layer = TableConv2D(a["filters"], a["kernel"], a["table"], strides=a["stride"],
                            padding=padding, use_bias=a["bias"],
                            activation=activation(a["activation"]), name=name)
    elif a["groups"] > 1:
        from nnc.backends.keras.layers import GroupedConv2D
        layer = GroupedConv2D(a["filters"], a["kernel"], a["groups"], strides=a["stride"],
                              padding=padding, use_bias=a["bias"],
                              activation=activation(a["activation"]), name=name)
    else:
        layer = keras.layers.Conv2D(a["filters"], a["kernel"], strides=a["stride"],
                                    padding=padding, use_bias=a["bias"],
                                    activation=activation(a["activation"]), name=name)
    return lambda t: layer(pad(t))


def depthwise_conv(kind, a, name, ins, keras):
    pad, padding = padding_layer(kind, a, name, keras)
    layer = keras.layers.DepthwiseConv2D(a["kernel"], strides=a["stride"], padding=padding,
                                         depth_multiplier=a["multiplier"], use_bias=a["bias"],
                                         activation=activation(a["activation"]), name=name)
    return lambda t: layer(pad(t))


def separable_conv(kind, a, name, ins, keras):
    pad, padding = padding_layer(kind, a, name, keras)
    layer = keras.layers.SeparableConv2D(a["filters"], a["kernel"], strides=a["stride"],
                                         padding=padding, depth_multiplier=a["multiplier"],
                                         use_bias=a["bias"],
                                         activation=activation(a["activation"]), name=name)
    return lambda t: layer(pad(t))


def pooling(windowed: str, global_: str):
    """A pooling kind's lowering: the windowed Keras layer, or the global one when the
    pool has no size."""
    def lower(kind, a, name, ins, keras):
        if a["size"] is None:
            return getattr(keras.layers, global_)(name=name)
        if a["rounding"] == "ceil" and a["padding"] != "same":
            return ceil_pooling(kind, a, name, ins, keras, windowed)
        pad, padding = padding_layer(kind, a, name, keras)
        pool = getattr(keras.layers, windowed)(a["size"], strides=a["stride"] or a["size"],
                                               padding=padding, name=name)
        return lambda t: pool(pad(t))
    return lower


def ceil_pooling(kind, a, name, ins, keras, windowed: str):
    """Caffe's ceil rounding: the last window overhangs the input (and its padding) by a
    few rows and columns, which a max never picks (−∞) and an average does not count."""
    from nnc.backends.keras.layers import ClippedAveragePooling2D, ConstantPadding2D
    r = kind.resolved(a)
    pads = (0, 0) if a["padding"] == "valid" else a["padding"]
    out = kind.shape(a, ins)
    overhang = tuple(ceil_overhang(ins[0][i], pads[i], r["kernel"][i], r["stride"][i], out[i])
                     for i in (0, 1))
    padding = tuple((p, p + extra) for p, extra in zip(pads, overhang))
    if kind.border == 0:
        return ClippedAveragePooling2D(r["kernel"], r["stride"], padding, overhang, name=name)
    pad = ConstantPadding2D(padding, kind.border, name=f"{name}.pad")
    pool = getattr(keras.layers, windowed)(r["kernel"], strides=r["stride"], padding="valid",
                                           name=name)
    return lambda t: pool(pad(t))


def up_conv(kind, a, name, ins, keras):
    return keras.layers.Conv2DTranspose(a["filters"], a["kernel"], strides=a["stride"],
                                        padding="valid", use_bias=a["bias"],
                                        activation=activation(a["activation"]), name=name)


def upsample(kind, a, name, ins, keras):
    return keras.layers.UpSampling2D(a["size"], interpolation=a["interpolation"], name=name)


def crop(kind, a, name, ins, keras):
    """The centre: as many rows cut at the top as at the bottom (the shape rule made the
    difference even)."""
    rows, columns = (ins[0][0] - a["height"]) // 2, (ins[0][1] - a["width"]) // 2
    return keras.layers.Cropping2D(((rows, rows), (columns, columns)), name=name)


def dense(kind, a, name, ins, keras):
    layer = keras.layers.Dense(a["units"], use_bias=a["bias"],
                               activation=activation(a["activation"]), name=name)
    if len(ins[0]) < 3:  # a vector, or a sequence whose tokens each pass through it
        return layer
    flatten = keras.layers.Flatten(name=f"{name}.flatten")
    return lambda t: layer(flatten(t))


def patches(kind, a, name, ins, keras):
    """A P×P conv with stride P, its grid of patches then read row by row as tokens."""
    conv = keras.layers.Conv2D(a["features"], a["size"], strides=a["size"], padding="valid",
                               name=name)
    tokens = keras.layers.Reshape(kind.shape(a, ins), name=f"{name}.tokens")
    return lambda t: tokens(conv(t))


def class_token(kind, a, name, ins, keras):
    from nnc.backends.keras.tokens import ClassToken
    return ClassToken(name=name)


def position_embedding(kind, a, name, ins, keras):
    from nnc.backends.keras.tokens import PositionEmbedding
    return PositionEmbedding(name=name)


def attention(kind, a, name, ins, keras):
    """Keras's own MultiHeadAttention, the tokens as queries, keys and values."""
    layer = keras.layers.MultiHeadAttention(a["heads"], a["key_size"], use_bias=a["bias"],
                                            dropout=a["dropout"], name=name)
    return lambda t: layer(t, t)


def take_token(kind, a, name, ins, keras):
    from nnc.backends.keras.tokens import TakeToken
    return TakeToken(a["index"], name=name)


def flatten(kind, a, name, ins, keras):
    return keras.layers.Flatten(name=name)


def batch_norm(kind, a, name, ins, keras):
    return keras.layers.BatchNormalization(epsilon=a["epsilon"], momentum=a["momentum"],
                                           scale=a["scale"], name=name)


def zero_pad(kind, a, name, ins, keras):
    return keras.layers.ZeroPadding2D(a["size"], name=name)


def identity(kind, a, name, ins, keras):
    return keras.layers.Identity(name=name)


def dropout(kind, a, name, ins, keras):
    return keras.layers.Dropout(a["rate"], name=name)


def rescale(kind, a, name, ins, keras):
    return keras.layers.Rescaling(a["scale"], a["offset"], name=name)


def normalize(kind, a, name, ins, keras):
    from nnc.backends.keras.layers import Standardize
    if a["mean"] is None:
        return Standardize(name=name)
    channels = ins[0][-1]
    per_channel = lambda values: list(values) * (channels if len(values) == 1 else 1)
    return Standardize(per_channel(a["mean"]), per_channel([s * s for s in a["std"]]),
                       name=name)


def layer_norm(kind, a, name, ins, keras):
    return keras.layers.LayerNormalization(epsilon=a["epsilon"], name=name)


def layer_scale(kind, a, name, ins, keras):
    from nnc.backends.keras.layers import LayerScale
    return LayerScale(a["init"], name=name)


def drop_path(kind, a, name, ins, keras):
    """Dropout of whole samples: one draw per image, broadcast over its values."""
    return keras.layers.Dropout(a["rate"], noise_shape=(None,) + (1,) * len(ins[0]),
                                name=name)


def lrn(kind, a, name, ins, keras):
    from nnc.backends.keras.layers import LocalResponseNorm
    return LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["k"], name=name)


def activation_layer(kind, a, name, ins, keras):
    return keras.layers.Activation(activation(kind.name), name=name)


def named_activation(kind, a, name, ins, keras):
    return keras.layers.Activation(activation(a["function"]), name=name)


def add(kind, a, name, ins, keras):
    return keras.layers.Add(name=name)


def concat(kind, a, name, ins, keras):
    return keras.layers.Concatenate(name=name)


def multiply(kind, a, name, ins, keras):
    """A gate of one value per channel comes as a vector (after a global pool): reshaped
    to 1×1×C, so that it broadcasts over the positions and not over the batch."""
    product = keras.layers.Multiply(name=name)
    if len(ins[1]) == len(ins[0]):
        return product
    reshape = keras.layers.Reshape((1,) * (len(ins[0]) - len(ins[1])) + tuple(ins[1]),
                                   name=f"{name}.reshape")
    return lambda ts: product([ts[0], reshape(ts[1])])


def zero_pad_shortcut(kind, a, name, ins, keras):
    from nnc.backends.keras.layers import ZeroPadShortcut
    return ZeroPadShortcut(a["stride"], a["channels"] - ins[0][2], name=name)


def network_input(kind, a, name, ins, keras):
    return keras.Input(shape=a["shape"], name=name)


def subsample(kind, a, name, ins, keras):
    from nnc.backends.keras.layers import Subsample
    window = kind.resolved(a)
    return Subsample(window["kernel"], window["stride"],
                     activation=activation(a["activation"]), name=name)


def rbf(kind, a, name, ins, keras):
    from nnc.backends.keras.layers import EuclideanRBF
    return EuclideanRBF(a["units"], a["codes"], a["seed"], name=name)


LOWERINGS = {
    "conv": conv,
    "dwconv": depthwise_conv,
    "sepconv": separable_conv,
    "maxpool": pooling("MaxPooling2D", "GlobalMaxPooling2D"),
    "avgpool": pooling("AveragePooling2D", "GlobalAveragePooling2D"),
    "fc": dense,
    "upconv": up_conv,
    "upsample": upsample,
    "crop": crop,
    "flatten": flatten,
    "patch": patches,
    "classtoken": class_token,
    "posembed": position_embedding,
    "attention": attention,
    "token": take_token,
    "bn": batch_norm,
    "identity": identity,
    "zeropad": zero_pad,
    "dropout": dropout,
    "lrn": lrn,
    "rescale": rescale,
    "normalize": normalize,
    "layernorm": layer_norm,
    "layerscale": layer_scale,
    "droppath": drop_path,
    **{name: activation_layer for name in ACTIVATIONS if name != "none"},
    "activation": named_activation,
    "add": add,
    "concat": concat,
    "multiply": multiply,
    "pad_shortcut": zero_pad_shortcut,
    "input": network_input,
    "subsample": subsample,
    "rbf": rbf,
}


check_coverage(LOWERINGS, "Keras")
