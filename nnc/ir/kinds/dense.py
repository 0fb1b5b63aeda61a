"""Layer kinds of dense prediction, the expanding path of U-Net (Ronneberger et al.
2015) and its kin: the transposed convolution ("up-conv 2×2"), upsampling by repetition
or interpolation, and the centre crop of a skip connection ("copy and crop").

Receptive fields: an output of a layer that upsamples by S lies on a grid S times finer,
so its stride in input pixels is the input's divided by S (a fraction where S does not
divide it). Neighbouring outputs read the same input positions in turn, so the window,
over all outputs, spans 1 + (K − 1)/S input steps for a transposed conv, 1 + (S − 1)/S
for nearest neighbour and one more for bilinear interpolation.
"""
from __future__ import annotations

import math
from fractions import Fraction

from nnc.errors import ArchShapeError
from nnc.ir.attrs import Attr
from nnc.ir.kinds.base import BIAS_AND_ACTIVATION, Kind, Pointwise, register, spatial
from nnc.wording import dims


@register
class UpConv(Kind):
    """A transposed convolution with 'valid' padding: each input value times a K×K×F
    kernel, added into the output at stride S, so an H×W input gives (H−1)·S + K.
    Parameters K²·C·F (+ F biases). MACs H·W·K²·C·F: one per input value, kernel
    weight and filter (for S = K, the output's H'·W'·C·F)."""
    name = "upconv"
    doc = ("transposed convolution: `upconv2-512` doubles height and width with a 2×2 "
           "kernel to 512 maps (U-Net's \"up-conv 2×2\")")
    attrs = (Attr("kernel", "pair", doc="kernel size; the digits after `upconv`"),
             Attr("filters", "int", doc="output maps; `-512` in the short form"),
             Attr("stride", "pair", None, doc="upsampling factor; the kernel size by default"),
             *BIAS_AND_ACTIVATION)
    short = ("kernel", "filters", "stride")
    positional = ("filters",)
    weight_layer = True
    sliding = True

    def resolve(self, a, ins):
        return a if a["stride"] is not None else {**a, "stride": a["kernel"]}

    def shape(self, a, ins):
        h, w, _ = spatial(ins[0], "upconv")
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        return (h - 1) * sh + kh, (w - 1) * sw + kw, a["filters"]

    def params(self, a, ins, out):
        (kh, kw), c = a["kernel"], ins[0][2]
        return kh * kw * c * a["filters"] + a["bias"] * a["filters"], 0

    def macs(self, a, ins, out):
        (kh, kw), (h, w, c) = a["kernel"], ins[0]
        return h * w * kh * kw * c * a["filters"]

    def connections(self, a, ins, out):
        return self.macs(a, ins, out) + a["bias"] * math.prod(out)

    def window(self, a, ins):
        # Output o reads the input positions from (o − K + 1)/S to o/S: ⌈K/S⌉ of them,
        # centred (K − 1)/2S steps before o/S.
        return tuple(-(-k // s) for k, s in zip(a["kernel"], a["stride"])), \
            tuple(Fraction(1, s) for s in a["stride"])

    def window_start(self, a, ins):
        return tuple(Fraction(-(-k // s) - 1, 2) + Fraction(k - 1, 2 * s)
                     for k, s in zip(a["kernel"], a["stride"]))

    def reads(self, a, ins, axis, outputs):
        k, s = a["kernel"][axis], a["stride"][axis]
        return -((k - 1 - outputs) // s), outputs // s  # ⌈(o − K + 1)/S⌉ to ⌊o/S⌋

    def describe(self, a, strides=True):
        (kh, kw), f = a["kernel"], a["filters"]
        return f"up-conv {kh}×{kw}, {f}"


@register
class Upsample(Pointwise):
    """Each value repeated `size` times along height and width (nearest), or the maps
    interpolated (bilinear): no parameters, no MACs."""
    name = "upsample"
    doc = "upsampling: `upsample2` doubles height and width (nearest neighbour or bilinear)"
    attrs = (Attr("size", "pair", doc="the factor; the digits after `upsample`"),
             Attr("interpolation", "choice", "nearest", ("nearest", "bilinear")))
    short = ("size", None, None)
    in_place = False  # a bigger buffer
    backward_reads = "nothing"  # nearest or bilinear: fixed weights over the gradient

    def shape(self, a, ins):
        h, w, c = spatial(ins[0], "upsample")
        return h * a["size"][0], w * a["size"][1], c

    def window(self, a, ins):
        # Nearest: output o repeats input o/S rounded down, a window of 1 + (S − 1)/S
        # input steps over all o; bilinear reads two neighbours, one step more.
        seen = 1 if a["interpolation"] == "nearest" else 2
        return (tuple(seen + Fraction(s - 1, s) for s in a["size"]),
                tuple(Fraction(1, s) for s in a["size"]))

    def window_start(self, a, ins):
        # Bilinear (half-pixel centres) samples input (o + ½)/S − ½ and the one after it.
        extra = 0 if a["interpolation"] == "nearest" else Fraction(1, 2)
        return tuple(Fraction(s - 1, s) + extra for s in a["size"])

    def reads(self, a, ins, axis, outputs):
        s = a["size"][axis]
        if a["interpolation"] == "nearest":
            return outputs // s, outputs // s
        first = (2 * outputs + 1 - s) // (2 * s)  # ⌊(o + ½)/S − ½⌋
        return first, first + 1

    def describe(self, a, strides=True):
        return f"upsample ×{a['size'][0]}" + (", bilinear" if a["interpolation"] != "nearest"
                                              else "")


@register
class Crop(Pointwise):
    """The centre `height`×`width` of the maps: U-Net's "copy and crop", made by
    `skip(row, crop=true)` so that an earlier row's larger maps fit the current ones."""
    name = "crop"
    doc = "centre crop to height × width; made by `skip(row)`"
    attrs = (Attr("height", "int"), Attr("width", "int"))
    internal = True
    backward_reads = "nothing"

    def shape(self, a, ins):
        h, w, c = spatial(ins[0], "a crop")
        if a["height"] > h or a["width"] > w or (h - a["height"]) % 2 or (w - a["width"]) % 2:
            raise ArchShapeError(
                f"cannot crop {dims(ins[0])} to a centred {a['height']}×{a['width']}: the "
                f"maps must be at least as large and larger by an even number of rows and "
                f"columns. Received: {dims(ins[0])}")
        return a["height"], a["width"], c

    def window_start(self, a, ins):
        return -((ins[0][0] - a["height"]) // 2), -((ins[0][1] - a["width"]) // 2)
