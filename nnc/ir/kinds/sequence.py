"""Layer kinds of the Vision Transformer (Dosovitskiy et al. 2021): an image cut into
patches that become a sequence of tokens, a learned class token and position
embedding, and multi-head self-attention.

A sequence is the shape (N, D): N tokens of D features each. The kinds that act on each
position alone (LayerNorm, activations, dropout, the residual add) take it as they take
H×W×C maps, and a fully connected layer on a sequence is applied to every token with
the same weights: the transformer's MLP.

MACs, as torchvision counts ViT's GFLOPS (17.56 for ViT-B/16): a patch embedding is a
conv, N·P²·C·D; attention is its four projections, 3·N·D·h·k for the queries, keys and
values and N·h·k·D for the output, plus its two products with the sequence, N²·h·k for
QKᵀ and N²·h·k for the weighted sum of the values (h heads of size k). The softmax, the
scaling by 1/√k and the embeddings' additions count 0, as BatchNorm does.
"""
from __future__ import annotations

import math

from nnc.errors import ArchShapeError
from nnc.ir.attrs import Attr
from nnc.ir.kinds.base import Kind, Pointwise, register, spatial
from nnc.wording import dims


def sequence(shape, what: str):
    if len(shape) != 2:
        raise ArchShapeError(f"{what} needs a sequence of N tokens × D features (made by "
                             f"`patch16-768` from an image). Received: input {dims(shape)}")
    return shape


@register
class Patches(Kind):
    """ViT's patch embedding: the image cut into P×P patches, each flattened and
    projected to D features ("16×16 patches", eq. 1), which is a P×P conv with stride P
    and 'valid' padding, its H/P·W/P positions then read row by row as N tokens.
    Parameters P²·C·D + D; MACs N·P²·C·D."""
    name = "patch"
    doc = ("patch embedding: `patch16-768` cuts the image into 16×16 patches, each "
           "projected to 768 features, a sequence of H/16·W/16 tokens (ViT)")
    attrs = (Attr("size", "pair", doc="patch height and width; the digits after `patch`"),
             Attr("features", "int", doc="D, the features of each token; `-768`"))
    short = ("size", "features", None)
    positional = ("features",)
    weight_layer = True
    sliding = True

    def shape(self, a, ins):
        h, w, _ = spatial(ins[0], "patch")
        (ph, pw) = a["size"]
        if h % ph or w % pw:
            raise ArchShapeError(f"{ph}×{pw} patches must tile the image exactly: its "
                                 f"height and width must be multiples of the patch size. "
                                 f"Received: input {dims(ins[0])}")
        return (h // ph) * (w // pw), a["features"]

    def params(self, a, ins, out):
        return math.prod(a["size"]) * ins[0][2] * a["features"] + a["features"], 0

    def macs(self, a, ins, out):
        return out[0] * math.prod(a["size"]) * ins[0][2] * a["features"]

    def connections(self, a, ins, out):
        return out[0] * (math.prod(a["size"]) * ins[0][2] + 1) * a["features"]

    def window(self, a, ins):
        return a["size"], a["size"]

    def describe(self, a, strides=True):
        (ph, pw), d = a["size"], a["features"]
        return f"{ph}×{pw} patches, {d}"


@register
class ClassToken(Pointwise):
    """A learned token put before the sequence ("we prepend a learnable embedding to
    the sequence of embedded patches", eq. 1), whose state at the end stands for the
    image: D parameters, N + 1 tokens out."""
    name = "classtoken"
    doc = "prepends a learned class token to the sequence: N×D becomes (N+1)×D (ViT)"
    backward_reads = "nothing"

    def shape(self, a, ins):
        n, d = sequence(ins[0], "classtoken")
        return n + 1, d

    def params(self, a, ins, out):
        return ins[0][1], 0

    def describe(self, a, strides=True):
        return "class token"


@register
class PositionEmbedding(Pointwise):
    """A learned vector added to each token, one per position (eq. 1's E_pos): N·D
    parameters, no MACs."""
    name = "posembed"
    doc = "adds a learned position embedding, one D-vector per token (ViT)"
    in_place = True
    backward_reads = "nothing"  # the embedding's gradient is the output's

    def shape(self, a, ins):
        return sequence(ins[0], "posembed")

    def params(self, a, ins, out):
        return math.prod(ins[0]), 0

    def describe(self, a, strides=True):
        return "position embedding"


@register
class Attention(Kind):
    """Multi-head self-attention (Vaswani et al. 2017; ViT's eq. 5–8): each of h heads
    projects the tokens to queries, keys and values of size k (D/h unless given), weights
    the values by softmax(QKᵀ/√k), and a last projection maps the h·k results back to D.
    Parameters 4·D·h·k + 3·h·k + D with biases."""
    name = "attention"
    doc = ("multi-head self-attention: `attention(12)` has 12 heads of size D/12 "
           "(ViT's MSA)")
    attrs = (Attr("heads", "int", doc="the number of heads h"),
             Attr("key_size", "int", None, doc="k, the size of each head; D/h by default"),
             Attr("bias", "bool", True),
             Attr("dropout", "fraction", 0.0, doc="dropout on the attention weights"))
    positional = ("heads",)
    weight_layer = True
    mixes_positions = True

    def resolve(self, a, ins):
        if a["key_size"] is not None:
            return a
        d = sequence(ins[0], "attention")[1]
        if a["heads"] < 1 or d % a["heads"]:
            raise ArchShapeError(f"heads={a['heads']} must divide the {d} features of "
                                 f"each token, or give key_size. Received: input "
                                 f"{dims(ins[0])}")
        return {**a, "key_size": d // a["heads"]}

    def shape(self, a, ins):
        return sequence(ins[0], "attention")

    def width(self, a) -> int:
        return a["heads"] * a["key_size"]

    def params(self, a, ins, out):
        d, hk = ins[0][1], self.width(a)
        return 4 * d * hk + a["bias"] * (3 * hk + d), 0

    def macs(self, a, ins, out):
        (n, d), hk = ins[0], self.width(a)
        return 4 * n * d * hk + 2 * n * n * hk

    def connections(self, a, ins, out):
        return self.macs(a, ins, out)

    def scratch(self, a, ins, out):
        # Q, K and V (N·h·k each), the attention weights of each head (N²·h, the softmax
        # written over the scores) and the weighted values before the output projection.
        n, hk = ins[0][0], self.width(a)
        return 4 * n * hk + n * n * a["heads"]

    def window(self, a, ins):
        return (1, 1), (1, 1)  # every token reads every other: see mixes_positions

    def describe(self, a, strides=True):
        return f"self-attention, {a['heads']} heads of {a['key_size']}"


@register
class Token(Pointwise):
    """One token of the sequence as a vector: the class token's final state (`token`,
    position 0), which ViT's head classifies (eq. 4)."""
    name = "token"
    doc = "takes one token of the sequence as a D-vector: `token` is the class token (0)"
    attrs = (Attr("index", "count", 0, doc="the token's position, from 0"),)
    positional = ("index",)
    backward_reads = "nothing"

    def shape(self, a, ins):
        n, d = sequence(ins[0], "token")
        if not 0 <= a["index"] < n:
            raise ArchShapeError(f"token {a['index']} is not one of the sequence's "
                                 f"{n} tokens (0 to {n - 1}). Received: input {dims(ins[0])}")
        return (d,)

    def describe(self, a, strides=True):
        return "class token" if a["index"] == 0 else f"token {a['index']}"
