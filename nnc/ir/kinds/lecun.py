"""Layer kinds of LeCun, Bottou, Bengio and Haffner (1998), section II.B, written as
general layers: trainable subsampling (LeNet-5's S2 and S4) and Euclidean RBF units with
fixed codes (its output layer). LeCun's squashing function is the `squash` activation
of base.py, and the partial connection table of C3 is conv's `table` option.

These kinds register into the one table, KINDS, like those of core.py.
"""
from __future__ import annotations

import math

from nnc.errors import ArchShapeError
from nnc.ir.attrs import Attr
from nnc.ir.kinds.base import ACTIVATIONS, WINDOW_ATTRS, Kind, register
from nnc.ir.kinds.core import Pool
from nnc.wording import dims


@register
class Subsample(Pool):
    """A pool whose window sum is scaled by one trainable coefficient and shifted by one
    trainable bias per map, then squashed: 2 parameters per map (S2: 6 maps, 12)."""
    name = "subsample"
    doc = ("LeCun's trainable subsampling: each map's window sum × a trainable coefficient "
           "+ a trainable bias, then the activation; `subsample` is 2×2/2")
    attrs = (Attr("size", "pair", (2, 2), doc="window size; the digits after the name"),
             Attr("stride", "pair", None, doc="defaults to the size"),
             WINDOW_ATTRS[2],
             Attr("activation", "choice", "none", ACTIVATIONS))
    weight_layer = True  # LeCun counts S2 and S4 among LeNet-5's 7 trainable layers
    label = "subsampling"

    def resolved(self, a):
        return {**super().resolved(a), "padding": "valid"}

    def params(self, a, ins, out):
        return 2 * ins[0][2], 0

    def macs(self, a, ins, out):
        return math.prod(out)  # one multiply by the coefficient per output; sums are adds

    def connections(self, a, ins, out):
        kh, kw = a["size"]
        return math.prod(out) * (kh * kw + 1)  # the window's inputs and the bias


@register
class RBF(Kind):
    """Unit i outputs −Σ_j (x_j − w_ij)² for a fixed code w_i of ±1 (LeCun's eq. 7 with
    the sign turned, so that the outputs are logits). The codes are weights that are not
    trained: Keras counts them as non-trainable parameters."""
    name = "rbf"
    doc = ("Euclidean RBF units with fixed ±1 codes (LeNet-5's output layer): `rbf-10`; "
           "outputs the negative squared distance to each code, a logit")
    attrs = (Attr("units", "int", doc="number of units (classes); `-10` in the short form"),
             Attr("codes", "grid", None,
                  doc="a row per unit, an X (+1) or . (−1) per input; by default drawn "
                      "from `seed`"),
             Attr("seed", "count", 1998, doc="seed of the codes drawn when none are given"))
    short = (None, "units", None)
    positional = ("units",)
    weight_layer = True

    def shape(self, a, ins):
        if len(ins[0]) != 1:
            raise ArchShapeError(f"rbf compares a vector with its codes, so it needs a "
                                 f"vector input (after fc or flatten). Received: input "
                                 f"{dims(ins[0])}")
        codes = a["codes"]
        if codes is not None and (len(codes), len(codes[0])) != (a["units"], ins[0][0]):
            raise ArchShapeError(
                f"codes need a row per unit and a mark per input: {a['units']}×{ins[0][0]}. "
                f"Received: {len(codes)} row(s) of {len(codes[0])} mark(s)")
        return (a["units"],)

    def params(self, a, ins, out):
        return 0, ins[0][0] * a["units"]

    def macs(self, a, ins, out):
        return ins[0][0] * a["units"]  # one squared difference accumulated per code entry

    def connections(self, a, ins, out):
        return ins[0][0] * a["units"]

    def window(self, a, ins):
        return (1, 1), (1, 1)

    def describe(self, a, strides=True):
        return f"{a['units']} Euclidean RBF units"

    def outputs(self, a) -> str:
        return "distances"


def rbf_codes(units: int, inputs: int, seed: int) -> list[str]:
    """Deterministic ±1 codes ("X" = +1, "." = -1), one string per unit, for an rbf
    layer whose file gives none. Python's random with a fixed seed gives the same codes
    on every machine and in every backend."""
    import random
    draw = random.Random(seed)
    return ["".join(draw.choice("X.") for _ in range(inputs)) for _ in range(units)]
