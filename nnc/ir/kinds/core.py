"""The layer kinds of the classic CNN papers: convolution, pooling, fully connected,
flatten, batch normalization, dropout, local response normalization and activations."""
from __future__ import annotations

import math

from nnc.errors import ArchShapeError, ArchValueError
from nnc.ir.attrs import Attr
from nnc.ir.kinds.base import (
    ACTIVATIONS,
    BIAS_AND_ACTIVATION,
    WINDOW_ATTRS,
    Kind,
    Pointwise,
    SlidingKernel,
    padding_before,
    register,
    spatial,
    spatial_output,
    stride_text,
)


@register
class Conv(SlidingKernel):
    name = "conv"
    doc = "2-D convolution: `conv3-64` is 3×3, 64 filters; `conv11-96/4` has stride 4"
    attrs = (Attr("kernel", "pair", doc="kernel size; the digits after `conv`"),
             Attr("filters", "int", None,
                  doc="number of output maps; `-64` in the short form"),
             Attr("expansion", "float", None,
                  doc="instead of filters: this many output maps per input map "
                      "(MobileNetV2's expansion factor t, DenseNet's compression 0.5)"),
             *WINDOW_ATTRS,
             Attr("groups", "int", 1, doc="split input and output maps into this many groups"),
             Attr("table", "grid", None,
                  doc="connection table: a row per input map, a column per filter, X where "
                      "the filter sees the map (LeCun et al. 1998, Table I)"),
             *BIAS_AND_ACTIVATION)
    short = ("kernel", "filters", "stride")
    positional = ("filters",)

    def resolve(self, a, ins):
        if a["filters"] is None and a["expansion"] is None:
            raise ArchValueError("'conv' needs a value for 'filters' (number of output maps; "
                                 "`-64` in the short form) or for 'expansion' (output maps "
                                 "per input map). Received: neither")
        if a["filters"] is not None and a["expansion"] is not None:
            raise ArchValueError(f"a conv takes its width as filters or as an expansion of "
                                 f"its input, not both. Received: filters={a['filters']} "
                                 f"and expansion={a['expansion']}")
        if a["filters"] is not None:
            return a
        maps = a["expansion"] * spatial(ins[0], "conv")[2]
        if a["expansion"] <= 0 or maps != int(maps):
            raise ArchValueError(f"expansion times the {ins[0][2]} input maps must be a "
                                 f"whole number of maps ≥ 1. Received: expansion="
                                 f"{a['expansion']:g}")
        return {**a, "filters": int(maps)}

    def shape(self, a, ins):
        c = spatial(ins[0], "conv")[2]
        g = a["groups"]
        if c % g or a["filters"] % g:
            raise ArchShapeError(
                f"groups={g} must divide both the input channels and the filters. "
                f"Received: {c} input channels, {a['filters']} filters")
        if a["table"] is not None:
            check_table(a["table"], c, a["filters"], g)
        return (*spatial_output(a, ins[0], "conv"), a["filters"])

    def params(self, a, ins, out):
        (kh, kw), c = a["kernel"], ins[0][2]
        return kh * kw * conv_links(a, c) + a["bias"] * a["filters"], 0

    def macs(self, a, ins, out):
        (kh, kw), c = a["kernel"], ins[0][2]
        return out[0] * out[1] * kh * kw * conv_links(a, c)

    def connections(self, a, ins, out):
        (kh, kw), c = a["kernel"], ins[0][2]
        return out[0] * out[1] * (kh * kw * conv_links(a, c) + a["bias"] * a["filters"])

    def describe(self, a, strides=True):
        (kh, kw) = a["kernel"]
        text = f"{kh}×{kw}, {a['filters']}"
        if strides and a["stride"] != (1, 1):
            text += stride_text(a["stride"])
        text += f", groups {a['groups']}" if a["groups"] > 1 else ""
        return text + (", connection table" if a["table"] is not None else "")


def conv_links(a, channels: int) -> int:
    """The (input map, filter) pairs a conv connects, each owning a kernel: every pair
    within a group, or the X marks of its connection table."""
    if a["table"] is not None:
        return sum(row.count("X") for row in a["table"])
    return channels // a["groups"] * a["filters"]


def check_table(table, channels: int, filters: int, groups: int) -> None:
    if groups != 1:
        raise ArchShapeError(f"a connection table says which maps each filter sees, so it "
                             f"replaces groups; give one or the other. Received: "
                             f"groups={groups} and a table")
    if (len(table), len(table[0])) != (channels, filters):
        raise ArchShapeError(
            f"the connection table needs a row per input map and a column per filter: "
            f"{channels}×{filters}. Received: a table of {len(table)} row(s) × "
            f"{len(table[0])} column(s)")
    blind = [str(f) for f in range(filters) if "X" not in (row[f] for row in table)]
    if blind:
        raise ArchShapeError(f"every filter must see at least one input map, but the "
                             f"connection table has no X in column(s) {', '.join(blind)} "
                             f"(counted from 0). Received: a column of only '.'")


class Pool(Kind):
    """Max or average pooling; without a size, average pooling is global."""
    attrs = (Attr("size", "pair", doc="window size; the digits after the name"),
             Attr("stride", "pair", None, doc="defaults to the size"),
             Attr("padding", "padding", "valid",
                  doc="valid, same, or explicit border rows/columns: max pooling never "
                      "picks the border, average pooling counts it as zeros (as Caffe)"),
             Attr("rounding", "choice", "exact", ("exact", "floor", "ceil"),
                  doc="exact: an output size that is not whole is an error; floor: drop "
                      "the rest; ceil: one more window over the rest (Caffe)"))
    short = ("size", None, "stride")
    sliding = True
    label = ""              # the papers' words for it: "max pool"

    def resolved(self, a):
        return {**a, "kernel": a["size"], "stride": a["stride"] or a["size"]}

    def shape(self, a, ins):
        h, w, c = spatial(ins[0], self.name)
        if a["size"] is None:
            return (c,)
        return (*spatial_output(self.resolved(a), ins[0], self.name, can_ceil=True), c)

    def params(self, a, ins, out):
        return 0, 0

    def macs(self, a, ins, out):
        return 0  # by the papers' convention only conv and fc multiply-accumulate

    def connections(self, a, ins, out):
        kh, kw = a["size"] or ins[0][:2]
        return math.prod(out) * kh * kw

    def window(self, a, ins):
        if a["size"] is None:
            return tuple(ins[0][:2]), tuple(ins[0][:2])
        r = self.resolved(a)
        return r["kernel"], r["stride"]

    def window_start(self, a, ins):
        return (0, 0) if a["size"] is None else padding_before(self.resolved(a), ins[0])

    def describe(self, a, strides=True):
        label = self.label or self.name
        if a["size"] is None:
            return f"global {label}"
        r = self.resolved(a)
        (kh, kw), (sh, sw) = r["kernel"], r["stride"]
        stride = stride_text((sh, sw)) if strides else ""
        return f"{kh}×{kw} {label}{stride}"


@register
class MaxPool(Pool):
    name = "maxpool"
    doc = "max pooling: `maxpool` is 2×2/2, `maxpool3/2` is 3×3 with stride 2"
    attrs = (Attr("size", "pair", (2, 2)), *Pool.attrs[1:])
    border = float("-inf")  # a max never picks the padding, as in Caffe and PyTorch
    label = "max pool"


@register
class AvgPool(Pool):
    name = "avgpool"
    doc = "average pooling: `avgpool` is global, `avgpool5/3` is 5×5 with stride 3"
    attrs = (Attr("size", "pair", None), *Pool.attrs[1:])
    label = "average pool"


@register
class FC(Kind):
    """A fully connected layer. On maps, every value reaches every unit (the maps are
    flattened first); on a sequence, the same weights act on each token (a transformer's
    MLP), N×D to N×units."""
    name = "fc"
    doc = ("fully connected layer: `fc-4096`; maps are flattened first, a sequence's "
           "tokens each pass through it")
    attrs = (Attr("units", "int", doc="number of outputs; `-4096` in the short form"),
             *BIAS_AND_ACTIVATION)
    short = (None, "units", None)
    positional = ("units",)
    weight_layer = True

    def tokens(self, ins) -> int:
        """How many times the weights are applied: once per token of a sequence."""
        return ins[0][0] if len(ins[0]) == 2 else 1

    def features(self, ins) -> int:
        return ins[0][1] if len(ins[0]) == 2 else math.prod(ins[0])

    def shape(self, a, ins):
        return (ins[0][0], a["units"]) if len(ins[0]) == 2 else (a["units"],)

    def params(self, a, ins, out):
        return self.features(ins) * a["units"] + a["bias"] * a["units"], 0

    def macs(self, a, ins, out):
        return self.tokens(ins) * self.features(ins) * a["units"]

    def connections(self, a, ins, out):
        return self.tokens(ins) * (self.features(ins) + a["bias"]) * a["units"]

    def window(self, a, ins):
        return (tuple(ins[0][:2]), tuple(ins[0][:2])) if len(ins[0]) == 3 else ((1, 1), (1, 1))

    def describe(self, a, strides=True):
        return f"{a['units']}-d fc"


@register
class Flatten(Pointwise):
    name = "flatten"
    doc = "flatten H×W×C to H·W·C values"
    view = True
    backward_reads = "nothing"

    def shape(self, a, ins):
        return (math.prod(ins[0]),)


@register
class BatchNorm(Pointwise):
    """Per-channel scale and shift: no MACs, as the papers count, since at inference it
    folds into the preceding conv."""
    name = "bn"
    doc = "batch normalization over channels: γ and β trained, moving mean and variance not"
    attrs = (Attr("epsilon", "float", 1e-5), Attr("momentum", "float", 0.9),
             Attr("scale", "bool", True,
                  doc="a learned γ per channel; false where a linear layer or ReLU "
                      "follows and γ would add nothing (Inception-v3)"))
    normalization = True

    def params(self, a, ins, out):
        return (1 + a["scale"]) * ins[0][-1], 2 * ins[0][-1]


@register
class ZeroPad(Pointwise):
    """Zero rows and columns around the maps, as a layer of its own: what Keras's
    ZeroPadding2D does before a 'valid' layer (ResNetV2 pads before its max pool, where
    the zeros, unlike a max pool's own padding, can be the maximum)."""
    name = "zeropad"
    doc = "zero padding as a layer: `zeropad1` adds one zero row and column on every side"
    attrs = (Attr("size", "pair", doc="rows and columns on each side; the digits after "
                                      "`zeropad`"),)
    short = ("size", None, None)
    in_place = False  # a bigger buffer
    backward_reads = "nothing"  # its gradient is a slice of the output's

    def shape(self, a, ins):
        h, w, c = spatial(ins[0], "zeropad")
        return h + 2 * a["size"][0], w + 2 * a["size"][1], c

    def window_start(self, a, ins):
        return a["size"]

    def describe(self, a, strides=True):
        return f"zero padding {a['size'][0]}" + (f"×{a['size'][1]}"
                                                 if a["size"][0] != a["size"][1] else "")


@register
class Identity(Pointwise):
    """No layer at all in a plain chain; in a `concat:` it is the branch that passes the
    input on, as DenseNet concatenates each layer's input with its output."""
    name = "identity"
    doc = "the input, unchanged: the branch of a concat that passes its input on (DenseNet)"
    passes_on = True
    view = True
    backward_reads = "nothing"


@register
class Dropout(Pointwise):
    name = "dropout"
    doc = "dropout with the given rate: `dropout` is 0.5, `dropout(0.4)`"
    attrs = (Attr("rate", "fraction", 0.5),)
    positional = ("rate",)
    in_place = True
    stochastic = True
    backward_reads = "nothing"  # but its mask

    def mask_bytes(self, a, out):
        return math.prod(out) if a["rate"] > 0 else 0  # a byte a value, as PyTorch's

    def describe(self, a, strides=True):
        return f"dropout ({a['rate']:.0%})"


@register
class LRN(Pointwise):
    name = "lrn"
    doc = ("local response normalization across channels (Krizhevsky et al. 2012): "
           "b = a / (k + alpha·Σa²)^beta over `size` neighbouring maps")
    attrs = (Attr("size", "int", 5), Attr("alpha", "float", 1e-4),
             Attr("beta", "float", 0.75), Attr("k", "float", 2.0))

    def saved(self, a, out):
        return math.prod(out)  # the scale k + alpha·Σa², which the derivative needs


class Activation(Pointwise):
    in_place = True
    backward_reads = "output"

    def applied_activation(self, a) -> str:
        return self.name


for _fn in ACTIVATIONS[1:]:
    register(type(f"Activation_{_fn}", (Activation,),
                  {"name": _fn, "doc": f"the {_fn} activation as a layer of its own"}))


@register
class NamedActivation(Pointwise):
    """For a block whose nonlinearity is a parameter, as MobileNetV3's table gives each
    row's (RE for ReLU, HS for hard-swish): `activation(nl)`."""
    name = "activation"
    doc = "the activation named by `function`: `activation(nl)` in a block with a parameter nl"
    attrs = (Attr("function", "choice", doc="one of the activations", choices=ACTIVATIONS),)
    positional = ("function",)
    in_place = True
    backward_reads = "output"

    def applied_activation(self, a) -> str:
        return a["function"]

    def describe(self, a, strides=True):
        return a["function"]
