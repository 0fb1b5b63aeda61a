"""The ONNX lowering table: for every layer kind, the function that emits its ONNX
nodes (opset 17) and returns the tensor that holds its output, named after the layer.

Each function takes (emitter, site): the site's inputs are tensors, maps channels
first (nnc/backends/onnx/emit.py says why). Weights arrive in Keras's layouts and
leave in ONNX's: a conv kernel kh×kw×C×F becomes F×C×kh×kw. The table must cover every
kind of nnc.ir.kinds.KINDS, which is checked when this module is imported.
"""
from __future__ import annotations

import math

import numpy as np

from nnc.backends import check_coverage
from nnc.backends.onnx.emit import (
    TO_CHANNELS_FIRST,
    TO_CHANNELS_LAST,
    filled,
    glorot,
    is_map,
    ones,
    to_oihw,
    zeros,
)
from nnc.backends.onnx.transformer import (
    attention,
    class_token,
    patches,
    position_embedding,
    take_token,
)
from nnc.ir.kinds.base import ACTIVATIONS, ceil_overhang, same_padding
from nnc.ir.kinds.lecun import rbf_codes

SQRT_HALF = 0.7071067811865476


# --- activations ------------------------------------------------------------------

def apply_activation(e, name: str, x: str, output: str, shape) -> str:
    """Keras's activation `name` on x, as ONNX ops; softmax over the channels."""
    def part(what: str) -> str:  # a tensor on the way, named after the output
        return f"{output}/{name}.{what}"

    def times(tensor: str, factor: float, what: str) -> str:
        return e.node("Mul", [tensor, e.constant(part(f"{what}_factor"), factor)], part(what))

    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "hard_swish": "HardSwish"}
    if name in simple:
        return e.node(simple[name], [x], output)
    if name == "relu6":
        return e.node("Clip", [x, e.constant(part("low"), 0.0), e.constant(part("high"), 6.0)],
                      output)
    if name == "softmax":
        return e.node("Softmax", [x], output, axis=1 if is_map(shape) else -1)
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3)/6
        return e.node("HardSigmoid", [x], output, alpha=1 / 6, beta=0.5)
    if name == "swish":
        return e.node("Mul", [x, e.node("Sigmoid", [x], part("sigmoid"))], output)
    if name == "squash":  # 1.7159·tanh(2x/3), LeCun's appendix A
        tanh = e.node("Tanh", [times(x, 2 / 3, "scaled")], part("tanh"))
        return e.node("Mul", [tanh, e.constant(part("amplitude"), 1.7159)], output)
    if name == "gelu":  # x·(1 + erf(x/√2))/2, the exact GELU
        erf = e.node("Erf", [times(x, SQRT_HALF, "scaled")], part("erf"))
        one_plus = e.node("Add", [erf, e.constant(part("one"), 1.0)], part("one_plus"))
        return e.node("Mul", [times(x, 0.5, "half"), one_plus], output)
    raise ValueError(f"no ONNX form of the activation {name}")


def before(s, activation: str, what: str) -> str:
    """The name of a layer's last tensor before its activation: the layer's own where
    it has none, so that a conv without one is a single Conv node."""
    return s.name if activation == "none" else f"{s.name}/{what}"


def finish(e, s, x: str, activation: str = "none") -> str:
    """The layer's output tensor: x through its activation, named after the layer."""
    if x == s.name:
        return x
    return apply_activation(e, activation, x, s.name, s.out)


def activation_layer(e, s):
    return finish(e, s, s.inputs[0], s.kind.name)


def named_activation(e, s):
    return finish(e, s, s.inputs[0], s.attrs["function"])


# --- convolutions -------------------------------------------------------------------

def pads(a, shape, kernel, stride) -> list[int]:
    """ONNX's pads (top, left, bottom, right) for 'same', 'valid' or explicit padding."""
    if a["padding"] == "valid":
        return [0, 0, 0, 0]
    if a["padding"] != "same":
        ph, pw = a["padding"]
        return [ph, pw, ph, pw]
    total = [same_padding(n, k, st) for n, k, st in zip(shape[:2], kernel, stride)]
    return [total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2]


def bias_of(e, s, index: int, size: int) -> list[str]:
    if not s.attrs["bias"]:
        return []
    return [e.parameter(s, "bias", e.weight(s, index, (size,), zeros))]


def conv_node(e, s, x: str, kernel_oihw, groups: int, a, bias: list[str], output: str) -> str:
    kh, kw = a["kernel"]
    # a connection table's kernel is named apart: the import reads its zeros as the table
    what = "kernel" if a.get("table") is None else "table_kernel"
    return e.node("Conv", [x, e.parameter(s, what, kernel_oihw), *bias], output,
                  kernel_shape=[kh, kw], strides=list(a["stride"]),
                  pads=pads(a, s.ins[0], a["kernel"], a["stride"]), group=groups)


def conv(e, s):
    a, c = s.attrs, s.ins[0][2]
    (kh, kw), f, g = a["kernel"], a["filters"], a["groups"]
    if a["table"] is not None:
        kernel = table_kernel(e, s, c, f)
    else:
        kernel = e.weight(s, 0, (kh, kw, c // g, f), glorot)
    y = conv_node(e, s, s.inputs[0], to_oihw(kernel), g, a, bias_of(e, s, 1, f),
                  before(s, a["activation"], "conv"))
    return finish(e, s, y, a["activation"])


def table_kernel(e, s, c: int, f: int) -> np.ndarray:
    """LeNet's connection table: the weights of the connected pairs (kh×kw×links, as
    nnc's TableConv2D holds them) scattered into a full kernel, zeros elsewhere."""
    (kh, kw), table = s.attrs["kernel"], s.attrs["table"]
    links = [(i, j) for i, row in enumerate(table) for j, mark in enumerate(row) if mark == "X"]
    held = e.weight(s, 0, (kh, kw, len(links)), glorot)
    full = np.zeros((kh, kw, c, f), np.float32)
    for link, (i, j) in enumerate(links):
        full[:, :, i, j] = held[:, :, link]
    return full


def depthwise_kernel(e, s, index: int) -> np.ndarray:
    """A depthwise kernel kh×kw×C×m as a grouped conv's (C·m)×1×kh×kw: output map c·m + j
    is input map c's j-th filter, as Keras orders them."""
    (kh, kw), c, m = s.attrs["kernel"], s.ins[0][2], s.attrs["multiplier"]
    kernel = e.weight(s, index, (kh, kw, c, m), glorot)
    return np.transpose(kernel.reshape(kh, kw, c * m), (2, 0, 1))[:, None]


def depthwise_conv(e, s):
    a, c = s.attrs, s.ins[0][2]
    kernel = depthwise_kernel(e, s, 0)
    y = conv_node(e, s, s.inputs[0], kernel, c, a, bias_of(e, s, 1, c * a["multiplier"]),
                  before(s, a["activation"], "conv"))
    return finish(e, s, y, a["activation"])


def separable_conv(e, s):
    a, c = s.attrs, s.ins[0][2]
    depthwise = conv_node(e, s, s.inputs[0], depthwise_kernel(e, s, 0), c,
                          {**a, "bias": False}, [], f"{s.name}/depthwise")
    pointwise = e.weight(s, 1, (1, 1, c * a["multiplier"], a["filters"]), glorot)
    y = e.node("Conv", [depthwise, e.parameter(s, "pointwise", to_oihw(pointwise)),
                        *bias_of(e, s, 2, a["filters"])], before(s, a["activation"], "pointwise"),
               kernel_shape=[1, 1])
    return finish(e, s, y, a["activation"])


def up_conv(e, s):
    a, c = s.attrs, s.ins[0][2]
    (kh, kw), f = a["kernel"], a["filters"]
    kernel = e.weight(s, 0, (kh, kw, f, c), glorot)  # Keras: kh×kw×F×C, ONNX: C×F×kh×kw
    y = e.node("ConvTranspose", [s.inputs[0], e.parameter(s, "kernel",
                                                          np.transpose(kernel, (3, 2, 0, 1))),
                                 *bias_of(e, s, 1, f)], before(s, a["activation"], "conv"),
               kernel_shape=[kh, kw], strides=list(a["stride"]))
    return finish(e, s, y, a["activation"])


# --- pooling ---------------------------------------------------------------------

def pooling(op: str, global_op: str):
    def lower(e, s):
        a = s.attrs
        if a["size"] is None:
            pooled = e.node(global_op, [s.inputs[0]], f"{s.name}/pool")
            return e.node("Flatten", [pooled], s.name, axis=1)
        r = s.kind.resolved(a)
        if a["rounding"] == "ceil" and a["padding"] != "same":
            return ceil_pool(e, s, op, r)
        extra = {} if op == "MaxPool" else {"count_include_pad": int(a["padding"] != "same")}
        return e.node(op, [s.inputs[0]], s.name, kernel_shape=list(r["kernel"]),
                      strides=list(r["stride"]), pads=pads(a, s.ins[0], r["kernel"],
                                                           r["stride"]), **extra)
    return lower


def ceil_pool(e, s, op: str, r):
    """Caffe's ceil rounding: the border padding is real (−∞ for a max, zeros that an
    average counts), and the last window's overhang past it is not counted."""
    pad = (0, 0) if s.attrs["padding"] == "valid" else s.attrs["padding"]
    overhang = [ceil_overhang(s.ins[0][i], pad[i], r["kernel"][i], r["stride"][i], s.out[i])
                for i in (0, 1)]
    x = s.inputs[0]
    if any(pad):
        border = float("-inf") if op == "MaxPool" else 0.0
        x = e.node("Pad", [x, e.ints(f"{s.name}/pads", [0, 0, *pad, 0, 0, *pad]),
                           e.constant(f"{s.name}/border", border)], f"{s.name}/padded")
    extra = {} if op == "MaxPool" else {"count_include_pad": 0}
    return e.node(op, [x], s.name, kernel_shape=list(r["kernel"]),
                  strides=list(r["stride"]), pads=[0, 0, *overhang], **extra)


def subsample(e, s):
    """LeNet's S2/S4: the window's sum (its average × its area) × a coefficient per
    map, plus a bias per map, then the activation."""
    r, c = s.kind.resolved(s.attrs), s.ins[0][2]
    area = math.prod(r["kernel"])
    mean = e.node("AveragePool", [s.inputs[0]], f"{s.name}/mean",
                  kernel_shape=list(r["kernel"]), strides=list(r["stride"]))
    coefficient = e.weight(s, 0, (c,), filled(1 / area)) * area
    bias = e.weight(s, 1, (c,), zeros)
    scaled = e.node("Mul", [mean, e.parameter(s, "coefficient", coefficient.reshape(c, 1, 1))],
                    f"{s.name}/scaled")
    shifted = e.node("Add", [scaled, e.parameter(s, "bias", bias.reshape(c, 1, 1))],
                     before(s, s.attrs["activation"], "shifted"))
    return finish(e, s, shifted, s.attrs["activation"])


# --- fully connected, flatten, RBF ---------------------------------------------------

def flat(e, s, x: str, shape, output: str) -> str:
    """A map flattened in Keras's order (rows, columns, channels); a sequence or vector
    flattened as it is."""
    if is_map(shape):
        x = e.transpose(x, TO_CHANNELS_LAST, f"{output}/channels_last")
    return e.node("Flatten", [x], output, axis=1)


def dense(e, s):
    a, shape = s.attrs, s.ins[0]
    x = flat(e, s, s.inputs[0], shape, f"{s.name}/flat") if len(shape) != 2 else s.inputs[0]
    inputs = shape[1] if len(shape) == 2 else math.prod(shape)
    kernel = e.parameter(s, "kernel", e.weight(s, 0, (inputs, a["units"]), glorot))
    linear = before(s, a["activation"], "linear")
    if not a["bias"]:
        return finish(e, s, e.node("MatMul", [x, kernel], linear), a["activation"])
    y = e.node("MatMul", [x, kernel], f"{s.name}/matmul")
    return finish(e, s, e.node("Add", [y, bias_of(e, s, 1, a["units"])[0]], linear),
                  a["activation"])


def flatten(e, s):
    return flat(e, s, s.inputs[0], s.ins[0], s.name)


def rbf(e, s):
    """−Σ_j (x_j − w_ij)²: the codes are ±1, the file's or drawn from the seed."""
    a, n = s.attrs, s.ins[0][0]
    rows = a["codes"] or rbf_codes(a["units"], n, a["seed"])
    codes = np.array([[1.0 if row[j] == "X" else -1.0 for row in rows] for j in range(n)])
    held = e.weight(s, 0, codes.shape, lambda shape, rng: codes)
    column = e.node("Unsqueeze", [s.inputs[0], e.ints(f"{s.name}/axis", [2])], f"{s.name}/x")
    difference = e.node("Sub", [column, e.parameter(s, "codes", held)], f"{s.name}/difference")
    square = e.node("Mul", [difference, difference], f"{s.name}/square")
    total = e.node("ReduceSum", [square, e.ints(f"{s.name}/axes", [1])], f"{s.name}/distance",
                   keepdims=0)
    return e.node("Neg", [total], s.name)


# --- normalisations and scales -------------------------------------------------------

def per_channel(values, shape) -> np.ndarray:
    """Per-channel values shaped to broadcast over a channels-first map."""
    values = np.asarray(values, np.float32)
    return values.reshape(-1, 1, 1) if is_map(shape) else values


def batch_norm(e, s):
    c, a = s.ins[0][-1], s.attrs
    gamma = e.weight(s, 0, (c,), ones) if a["scale"] else np.ones(c)
    rest = [e.weight(s, int(a["scale"]) + i, (c,), init)
            for i, init in enumerate((zeros, zeros, ones))]
    names = [e.parameter(s, what, value) for what, value in
             zip(("gamma", "beta", "moving_mean", "moving_variance"), (gamma, *rest))]
    sequence = len(s.ins[0]) == 2  # ONNX normalises axis 1: a sequence's features go there
    x = e.transpose(s.inputs[0], (0, 2, 1), f"{s.name}/features_first") if sequence \
        else s.inputs[0]
    y = e.node("BatchNormalization", [x, *names],
               f"{s.name}/normalized" if sequence else s.name, epsilon=a["epsilon"])
    return e.transpose(y, (0, 2, 1), s.name) if sequence else y


def normalize(e, s):
    """(x − mean)/max(√variance, 1e-7), as Keras's Normalization computes it."""
    a, c = s.attrs, s.ins[0][-1]
    if a["mean"] is None:
        mean, variance = e.weight(s, 0, (c,), zeros), e.weight(s, 1, (c,), ones)
        e.weight(s, 2, (), zeros)  # the count of samples measured: not needed to compute
    else:
        mean = np.broadcast_to(np.asarray(a["mean"], np.float32), (c,))
        variance = np.broadcast_to(np.square(np.asarray(a["std"], np.float32)), (c,))
    std = np.maximum(np.sqrt(variance), 1e-7)
    # measured statistics are named apart: the import reads them back as measured
    measured = "measured_" if a["mean"] is None else ""
    centred = e.node("Sub", [s.inputs[0], e.constant(f"{s.name}.{measured}mean",
                                                     per_channel(mean, s.ins[0]))],
                     f"{s.name}/centred")
    return e.node("Div", [centred, e.constant(f"{s.name}.{measured}std",
                                              per_channel(std, s.ins[0]))], s.name)


def rescale(e, s):
    scaled = e.node("Mul", [s.inputs[0], e.constant(f"{s.name}/scale", s.attrs["scale"])],
                    f"{s.name}/scaled")
    return e.node("Add", [scaled, e.constant(f"{s.name}/offset", s.attrs["offset"])], s.name)


def layer_norm(e, s):
    """Over the channels: ONNX normalises the last axes, so a map is put channels last
    for it."""
    c, spatial = s.ins[0][-1], is_map(s.ins[0])
    gamma = e.parameter(s, "gamma", e.weight(s, 0, (c,), ones))
    beta = e.parameter(s, "beta", e.weight(s, 1, (c,), zeros))
    x = e.transpose(s.inputs[0], TO_CHANNELS_LAST, f"{s.name}/channels_last") if spatial \
        else s.inputs[0]
    y = e.node("LayerNormalization", [x, gamma, beta],
               f"{s.name}/normalized" if spatial else s.name, axis=-1,
               epsilon=s.attrs["epsilon"])
    return e.transpose(y, TO_CHANNELS_FIRST, s.name) if spatial else y


def layer_scale(e, s):
    c = s.ins[0][-1]
    gamma = e.weight(s, 0, (c,), filled(s.attrs["init"]))
    return e.node("Mul", [s.inputs[0], e.parameter(s, "gamma", per_channel(gamma, s.ins[0]))],
                  s.name)


def lrn(e, s):
    """Krizhevsky's normalisation: ONNX's LRN divides alpha by the size and centres an
    odd window as nnc does; an even window (one more map before than after, as nnc's
    layer puts it) is summed by an average pool over the channels instead."""
    a = s.attrs
    size = a["size"]
    if size % 2:
        return e.node("LRN", [s.inputs[0]], s.name, size=size,
                      alpha=a["alpha"] * size, beta=a["beta"], bias=a["k"])
    x = s.inputs[0]
    square = e.node("Mul", [x, x], f"{s.name}/square")
    stacked = e.node("Unsqueeze", [square, e.ints(f"{s.name}/axis", [1])], f"{s.name}/stacked")
    window = e.node("AveragePool", [stacked], f"{s.name}/window", kernel_shape=[size, 1, 1],
                    pads=[size // 2, 0, 0, (size - 1) // 2, 0, 0], count_include_pad=1)
    total = e.node("Squeeze", [window, e.ints(f"{s.name}/axes", [1])], f"{s.name}/mean")
    scaled = e.node("Mul", [total, e.constant(f"{s.name}/alpha", a["alpha"] * size)],
                    f"{s.name}/scaled")
    base = e.node("Add", [scaled, e.constant(f"{s.name}/k", a["k"])], f"{s.name}/base")
    power = e.node("Pow", [base, e.constant(f"{s.name}/beta", a["beta"])], f"{s.name}/power")
    return e.node("Div", [x, power], s.name)


# --- shape-only layers --------------------------------------------------------------

def identity(e, s):
    return e.node("Identity", [s.inputs[0]], s.name)


def zero_pad(e, s):
    ph, pw = s.attrs["size"]
    return e.node("Pad", [s.inputs[0], e.ints(f"{s.name}/pads", [0, 0, ph, pw, 0, 0, ph, pw])],
                  s.name)


def upsample(e, s):
    """Nearest: each value repeated; bilinear: half-pixel centres, as Keras resizes."""
    sh, sw = s.attrs["size"]
    scales = e.constant(f"{s.name}/scales", [1.0, 1.0, sh, sw])
    if s.attrs["interpolation"] == "nearest":
        return e.node("Resize", [s.inputs[0], "", scales], s.name, mode="nearest",
                      coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return e.node("Resize", [s.inputs[0], "", scales], s.name, mode="linear",
                  coordinate_transformation_mode="half_pixel")


def crop(e, s):
    (h, w, _), a = s.ins[0], s.attrs
    top, left = (h - a["height"]) // 2, (w - a["width"]) // 2
    return e.node("Slice", [s.inputs[0], e.ints(f"{s.name}/starts", [top, left]),
                            e.ints(f"{s.name}/ends", [top + a["height"], left + a["width"]]),
                            e.ints(f"{s.name}/axes", [2, 3])], s.name)


def zero_pad_shortcut(e, s):
    """He et al.'s option A: every stride-th row and column, then zero maps appended."""
    (h, w, c), stride = s.ins[0], s.attrs["stride"]
    picked = e.node("Slice", [s.inputs[0], e.ints(f"{s.name}/starts", [0, 0]),
                              e.ints(f"{s.name}/ends", [h, w]),
                              e.ints(f"{s.name}/axes", [2, 3]),
                              e.ints(f"{s.name}/steps", [stride, stride])], f"{s.name}/picked")
    extra = s.attrs["channels"] - c
    return e.node("Pad", [picked, e.ints(f"{s.name}/pads", [0, 0, 0, 0, 0, extra, 0, 0])],
                  s.name)


# --- joins ------------------------------------------------------------------------

def add(e, s):
    return e.node("Sum", list(s.inputs), s.name)


def concat(e, s):
    return e.node("Concat", list(s.inputs), s.name, axis=1 if is_map(s.out) else -1)


def multiply(e, s):
    """A gate's values broadcast over the input: a vector of one per channel becomes
    C×1×1 (channels first)."""
    x, gate = s.inputs
    if is_map(s.ins[0]) and len(s.ins[1]) == 1:
        gate = e.node("Unsqueeze", [gate, e.ints(f"{s.name}/axes", [2, 3])], f"{s.name}/gate")
    return e.node("Mul", [x, gate], s.name)


def network_input(e, s):
    """The graph's input, named after the layer, comes in Keras's layout (channels
    last); maps go channels first inside."""
    if is_map(s.out):
        return e.transpose(s.name, TO_CHANNELS_FIRST, f"{s.name}/channels_first")
    return s.name


LOWERINGS = {
    "conv": conv,
    "dwconv": depthwise_conv,
    "sepconv": separable_conv,
    "maxpool": pooling("MaxPool", "GlobalMaxPool"),
    "avgpool": pooling("AveragePool", "GlobalAveragePool"),
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
    "dropout": identity,
    "lrn": lrn,
    "rescale": rescale,
    "normalize": normalize,
    "layernorm": layer_norm,
    "layerscale": layer_scale,
    "droppath": identity,
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


check_coverage(LOWERINGS, "ONNX")
