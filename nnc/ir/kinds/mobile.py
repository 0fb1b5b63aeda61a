"""Layer kinds of the factored convolutions: the depthwise convolution of MobileNet
(Howard et al. 2017), which Table 1 writes "Conv dw / s2, 3×3×64 dw": one K×K filter per
input map (or `multiplier` of them), no mixing across maps; and Xception's separable
convolution (Chollet 2017), a depthwise conv and a 1×1 pointwise conv as one layer."""
from __future__ import annotations

from nnc.ir.attrs import Attr
from nnc.ir.kinds.base import (
    BIAS_AND_ACTIVATION,
    WINDOW_ATTRS,
    SlidingKernel,
    register,
    spatial,
    spatial_output,
    stride_text,
)


@register
class DepthwiseConv(SlidingKernel):
    """MACs: H'·W'·K²·C·m, one multiply-accumulate per kernel weight and output position
    (the paper's D_K·D_K·M·D_F·D_F for m = 1)."""
    name = "dwconv"
    doc = ("depthwise convolution: `dwconv3/2` is one 3×3 filter per input map, stride 2 "
           "(MobileNet's \"Conv dw / s2\")")
    attrs = (Attr("kernel", "pair", doc="kernel size; the digits after `dwconv`"),
             *WINDOW_ATTRS,
             Attr("multiplier", "int", 1, doc="filters per input map (Keras's depth_multiplier)"),
             *BIAS_AND_ACTIVATION)
    short = ("kernel", None, "stride")  # a weight layer: MobileNet's 28 count dw apart

    def shape(self, a, ins):
        c = spatial(ins[0], "dwconv")[2]
        return (*spatial_output(a, ins[0], "dwconv"), c * a["multiplier"])

    def params(self, a, ins, out):
        (kh, kw), maps = a["kernel"], out[2]
        return kh * kw * maps + a["bias"] * maps, 0

    def macs(self, a, ins, out):
        (kh, kw) = a["kernel"]
        return out[0] * out[1] * kh * kw * out[2]

    def connections(self, a, ins, out):
        (kh, kw), maps = a["kernel"], out[2]
        return out[0] * out[1] * (kh * kw * maps + a["bias"] * maps)

    def describe(self, a, strides=True):
        (kh, kw) = a["kernel"]
        text = f"{kh}×{kw} dw" + (f" ×{a['multiplier']}" if a["multiplier"] > 1 else "")
        if strides and a["stride"] != (1, 1):
            text += stride_text(a["stride"])
        return text


@register
class SeparableConv(DepthwiseConv):
    """A depthwise conv then a 1×1 conv to `filters` maps, with no activation between
    (Xception's "SeparableConv"): K²·C·m + C·m·F weights (+ F biases); MACs of both
    steps, H'·W'·(K²·C·m + C·m·F)."""
    name = "sepconv"
    doc = ("separable convolution: `sepconv3-256` is a 3×3 depthwise conv then a 1×1 conv "
           "to 256 maps, as one layer (Xception)")
    attrs = (DepthwiseConv.attrs[0],
             Attr("filters", "int", doc="maps of the pointwise conv; `-256` in the short form"),
             *DepthwiseConv.attrs[1:])
    short = ("kernel", "filters", "stride")
    positional = ("filters",)

    def shape(self, a, ins):
        return (*super().shape(a, ins)[:2], a["filters"])

    def params(self, a, ins, out):
        (kh, kw), depth = a["kernel"], ins[0][2] * a["multiplier"]
        return kh * kw * depth + depth * a["filters"] + a["bias"] * a["filters"], 0

    def macs(self, a, ins, out):
        (kh, kw), depth = a["kernel"], ins[0][2] * a["multiplier"]
        return out[0] * out[1] * (kh * kw * depth + depth * a["filters"])

    def connections(self, a, ins, out):
        return out[0] * out[1] * sum(self.params(a, ins, out))

    def describe(self, a, strides=True):
        return super().describe(a, strides).replace(" dw", f" sep, {a['filters']}", 1)
