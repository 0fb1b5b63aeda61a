"""Layer kinds of today's networks that scale and normalise without mixing values: the
input preprocessing that keras.applications models begin with (rescale, normalize),
LayerNorm and layer scale (ConvNeXt), and the dropped path of stochastic depth.

MACs: none of them multiplies by weights that a conv could not absorb (a rescale, a
normalisation with fixed statistics and a layer scale fold into the next or previous
linear layer at inference), so they count 0, as BatchNorm does. LayerNorm's statistics
do depend on the input, but the papers that use it (ConvNeXt, ViT) count only the
convolutions and matrix products, and so does nnc.
"""
from __future__ import annotations

from nnc.errors import ArchShapeError
from nnc.ir.attrs import Attr
from nnc.ir.kinds.base import Pointwise, register
from nnc.wording import dims


@register
class Rescale(Pointwise):
    name = "rescale"
    doc = ("x·scale + offset on every value: `rescale(1/127.5, offset=-1)` maps pixels "
           "0–255 to [−1, 1] (Keras's Rescaling)")
    attrs = (Attr("scale", "float", doc="the factor"),
             Attr("offset", "float", 0.0, doc="added after scaling"))
    positional = ("scale",)
    in_place = True
    backward_reads = "nothing"  # a fixed affine map: the gradient is scaled

    def describe(self, a, strides=True):
        offset = f" {'+' if a['offset'] >= 0 else '−'} {abs(a['offset']):g}" if a["offset"] else ""
        return f"×{a['scale']:.4g}{offset}"


@register
class Normalize(Pointwise):
    """(x − mean)/√variance per channel. With `mean` and `std` written, constants (no
    parameters); without, statistics to be measured on the data (Keras's Normalization
    layer before `adapt`): 2C + 1 non-trainable values, a mean and a variance per
    channel and the count of samples they were measured on, as Keras counts them."""
    name = "normalize"
    doc = ("per-channel standardisation of the input: `normalize(mean=[...], std=[...])`, "
           "or `normalize` with statistics measured on the data (Keras's Normalization)")
    attrs = (Attr("mean", "numbers", None, doc="one value per channel"),
             Attr("std", "numbers", None, doc="one standard deviation per channel"))
    in_place = True
    backward_reads = "nothing"  # a fixed affine map: the gradient is scaled

    def shape(self, a, ins):
        given = [name for name in ("mean", "std") if a[name] is not None]
        if len(given) == 1:
            raise ArchShapeError(f"normalize takes both mean and std, or neither (to "
                                 f"measure them on the data). Received: only {given[0]}")
        for name in given:
            if len(a[name]) not in (1, ins[0][-1]):
                raise ArchShapeError(f"{name} needs one value per channel ({ins[0][-1]}) "
                                     f"or one for all. Received: {len(a[name])} values for "
                                     f"input {dims(ins[0])}")
        if a["std"] is not None and min(a["std"]) <= 0:
            raise ArchShapeError(f"std must be above 0. Received: {min(a['std']):g}")
        return ins[0]

    def params(self, a, ins, out):
        return (0, 0) if a["mean"] is not None else (0, 2 * ins[0][-1] + 1)

    def describe(self, a, strides=True):
        return "normalize" if a["mean"] is not None else "normalize (measured)"


@register
class LayerNorm(Pointwise):
    """Normalises each position's C values to mean 0 and variance 1 (Ba et al. 2016),
    then a learned γ and β per channel: 2C parameters."""
    name = "layernorm"
    doc = "layer normalization over the channels at each position, with γ and β (ConvNeXt)"
    attrs = (Attr("epsilon", "float", 1e-6),)

    def params(self, a, ins, out):
        return 2 * ins[0][-1], 0


@register
class LayerScale(Pointwise):
    """A learned scale per channel (Touvron et al. 2021), ConvNeXt's γ at the end of
    each block, started small (`init`) so that each block starts near the identity:
    C parameters."""
    name = "layerscale"
    doc = "a learned per-channel scale, γ·x, started at `init` (ConvNeXt's layer scale)"
    attrs = (Attr("init", "float", 1e-6, doc="the initial value of every γ"),)
    positional = ("init",)
    starts_small = True

    def params(self, a, ins, out):
        return ins[0][-1], 0


@register
class DropPath(Pointwise):
    """Stochastic depth (Huang et al. 2016): while training, drop the whole input of
    this layer for a random rate of the samples (and scale the others up); the
    identity at inference. Made by `residual(drop_path=...)` at the end of the body."""
    name = "droppath"
    doc = ("stochastic depth: while training, zero a residual body for a `rate` of the "
           "samples; made by `residual(drop_path=r)`, never written")
    attrs = (Attr("rate", "fraction", doc="the probability of dropping the path"),)
    positional = ("rate",)
    stochastic = True
    in_place = True
    backward_reads = "nothing"  # but its mask
    internal = True  # a whole-sample dropout outside a residual body would drop the input

    def mask_bytes(self, a, out):
        return 1 if a["rate"] > 0 else 0  # one draw for the whole sample

    def describe(self, a, strides=True):
        return f"drop path ({a['rate']:.1%})"
