"""The ONNX lowerings of the Vision Transformer's kinds (the table is lowering.py's):
the patch embedding, the class token, the position embedding, multi-head self-attention
as Keras's MultiHeadAttention computes it, and the taking of one token. Sequences are
N×tokens×D, as in Keras."""
from __future__ import annotations

import math

from nnc.backends.onnx.emit import glorot, small_normal, to_oihw, zeros


def patches(e, s):
    """A P×P conv with stride P, its grid read row by row as tokens: N×D×h×w becomes
    N×tokens×D."""
    p, d, c = s.attrs["size"], s.attrs["features"], s.ins[0][2]
    kernel = e.weight(s, 0, (*p, c, d), glorot)
    bias = e.parameter(s, "bias", e.weight(s, 1, (d,), zeros))
    grid = e.node("Conv", [s.inputs[0], e.parameter(s, "kernel", to_oihw(kernel)), bias],
                  f"{s.name}/conv", kernel_shape=list(p), strides=list(p))
    flat = e.node("Reshape", [grid, e.ints(f"{s.name}/shape", [0, d, -1])], f"{s.name}/flat")
    return e.transpose(flat, (0, 2, 1), s.name)


def class_token(e, s):
    d = s.ins[0][1]
    token = e.parameter(s, "token", e.weight(s, 0, (1, 1, d), zeros))
    batch = e.node("Shape", [s.inputs[0]], f"{s.name}/shape", start=0, end=1)
    size = e.node("Concat", [batch, e.ints(f"{s.name}/one_by_d", [1, d])], f"{s.name}/size",
                  axis=0)
    tokens = e.node("Expand", [token, size], f"{s.name}/tokens")
    return e.node("Concat", [tokens, s.inputs[0]], s.name, axis=1)


def position_embedding(e, s):
    embedding = e.weight(s, 0, (1, *s.ins[0]), small_normal)
    return e.node("Add", [s.inputs[0], e.parameter(s, "embedding", embedding)], s.name)


def attention(e, s):
    """Keras's MultiHeadAttention: per head, softmax(QKᵀ/√k)V, then the output
    projection; weights query, key, value (D×h×k and h×k each) and output (h×k×D, D)."""
    a, d = s.attrs, s.ins[0][1]
    h, k = a["heads"], a["key_size"]
    q, key, v = (projection(e, s, what, i, d, h, k)
                 for i, what in enumerate(("query", "key", "value")))
    scaled = e.node("Mul", [q, e.constant(f"{s.name}/scale", 1 / math.sqrt(k))],
                    f"{s.name}/scaled_query")
    keys = e.transpose(key, (0, 1, 3, 2), f"{s.name}/keys")
    scores = e.node("MatMul", [scaled, keys], f"{s.name}/scores")
    weights = e.node("Softmax", [scores], f"{s.name}/weights", axis=-1)
    mixed = e.node("MatMul", [weights, v], f"{s.name}/mixed")
    joined = e.node("Reshape", [e.transpose(mixed, (0, 2, 1, 3), f"{s.name}/tokens_first"),
                                e.ints(f"{s.name}/joined_shape", [0, 0, h * k])],
                    f"{s.name}/joined")
    index = 6 if a["bias"] else 3
    kernel = e.parameter(s, "output.kernel",
                         e.weight(s, index, (h, k, d), glorot).reshape(h * k, d))
    if not a["bias"]:
        return e.node("MatMul", [joined, kernel], s.name)
    y = e.node("MatMul", [joined, kernel], f"{s.name}/output")
    bias = e.parameter(s, "output.bias", e.weight(s, index + 1, (d,), zeros))
    return e.node("Add", [y, bias], s.name)


def projection(e, s, what: str, i: int, d: int, h: int, k: int) -> str:
    """Queries, keys or values: N×tokens×D to N×h×tokens×k."""
    index = 2 * i if s.attrs["bias"] else i
    kernel = e.weight(s, index, (d, h, k), glorot).reshape(d, h * k)
    y = e.node("MatMul", [s.inputs[0], e.parameter(s, f"{what}.kernel", kernel)],
               f"{s.name}/{what}")
    if s.attrs["bias"]:
        bias = e.weight(s, index + 1, (h, k), zeros).reshape(h * k)
        y = e.node("Add", [y, e.parameter(s, f"{what}.bias", bias)], f"{s.name}/{what}_biased")
    split = e.node("Reshape", [y, e.ints(f"{s.name}/{what}_shape", [0, 0, h, k])],
                   f"{s.name}/{what}_heads")
    return e.transpose(split, (0, 2, 1, 3), f"{s.name}/{what}_by_head")


def take_token(e, s):
    return e.node("Gather", [s.inputs[0], e.ints(f"{s.name}/index", s.attrs["index"])], s.name,
                  axis=1)


