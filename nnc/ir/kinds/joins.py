"""Kinds the compiler makes itself, never written in a file: the input, the joins of
parallel branches (add, concat, a gate's multiply) and option A's zero-padding
shortcut."""
from __future__ import annotations

import math

from nnc.errors import ArchShapeError
from nnc.ir.attrs import REQUIRED, Attr
from nnc.ir.kinds.base import Pointwise, register, spatial
from nnc.wording import dims


class Join(Pointwise):
    internal = True
    arity = None
    backward_reads = "nothing"  # a sum or a concat routes the gradient without values


@register
class Add(Join):
    name = "add"
    doc = "sum of a residual body and its shortcut"

    def shape(self, a, ins):
        if any(s != ins[0] for s in ins):
            raise ArchShapeError("residual body and shortcut disagree. Received: "
                                 + " and ".join(dims(s) for s in ins))
        return ins[0]


@register
class Concat(Join):
    name = "concat"
    doc = "concatenation of parallel branches along the channels"
    concatenates = True

    def shape(self, a, ins):
        if any(len(s) != 3 or s[:2] != ins[0][:2] for s in ins):
            raise ArchShapeError("branches must agree in height and width to be "
                                 "concatenated. Received: " + ", ".join(dims(s) for s in ins))
        return (*ins[0][:2], sum(s[2] for s in ins))


@register
class Multiply(Join):
    """A `gate:` compound's product of its input and its body's values: one value per
    channel (squeeze-and-excitation, Hu et al. 2018), per position, or per value,
    broadcast over the rest. MACs: one multiply per output value, H·W·C, since unlike a
    batchnorm's scale it depends on the input and cannot be folded into a conv."""
    name = "multiply"
    doc = "a gate: its input times the values of its body, broadcast"
    scales = True
    backward_reads = "inputs"  # each factor's gradient is the other factor's values

    def shape(self, a, ins):
        x, g = ins
        allowed = {(x[-1],), (*(1,) * (len(x) - 1), x[-1]), (*x[:-1], 1), tuple(x)}
        if tuple(g) not in allowed:
            raise ArchShapeError(
                f"a gate's body must give one value per channel (C or 1×1×C), per "
                f"position (H×W×1) or per value (the input's shape). Received: input "
                f"{dims(x)}, gate {dims(g)}")
        return x

    def macs(self, a, ins, out):
        return math.prod(out)


@register
class PadShortcut(Pointwise):
    """Option A of He et al.: subsample by the stride and append zero channels."""
    name = "pad_shortcut"
    doc = "parameter-free shortcut: strided subsampling plus zero channels (option A)"
    attrs = (Attr("stride", "int", 1), Attr("channels", "int"))
    backward_reads = "nothing"
    internal = True

    def shape(self, a, ins):
        h, w, c = spatial(ins[0], "a zero-padding shortcut")
        return -(-h // a["stride"]), -(-w // a["stride"]), a["channels"]

    def window(self, a, ins):
        return (1, 1), (a["stride"], a["stride"])


@register
class Input(Pointwise):
    name = "input"
    doc = "the network's input"
    attrs = (Attr("shape", "dims", REQUIRED),)
    internal = True
    arity = 0
    backward_reads = "nothing"

    def shape(self, a, ins):
        return a["shape"]

