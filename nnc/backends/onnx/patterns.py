"""The ONNX readers of the layers nnc lowers to several ops (nnc/backends/onnx/
transformer.py and lowering.py), the Vision Transformer's among them. Each pattern is
keyed off the names the lowering writes: a layer `L`'s ops write `L/<part>` and the last
one writes `L`, so the whole scope is read as one layer when its first op comes, and
its other ops' outputs are absorbed (the Reader skips them):

- a patch embedding: the Conv writing `L/conv`, the Reshape `L/flat` of its grid, the
  Transpose to tokens writing `L`;
- a class token: `L/shape`, `L/size`, the Expand `L/tokens` of a constant 1×1×D token,
  the Concat before the sequence writing `L`;
- self-attention: the MatMuls `L/query`, `L/key`, `L/value` of one input, their heads
  split by `L/query_shape` (…, h, k), softmax(QKᵀ/√k)V and the output projection `L`;
- GELU, x·(1 + erf(x/√2))/2: a Mul feeding an Erf, the Add of 1, the Mul by x/2;
  LeCun's squash, 1.7159·tanh(2x/3): a Mul feeding a Tanh, the Mul by 1.7159;
- LeCun's subsampling: the AveragePool `L/mean`, the Mul by a coefficient per map and
  the Add of a bias per map;
- an RBF layer: `L/x`, the Sub `L/difference` of its ±1 codes, their squares, the
  ReduceSum and the Neg writing `L`;
- a conv's connection table: the zeros of a kernel named `L.table_kernel`;
- a normalize: the Sub of `L.mean` (`L.measured_mean` where the file measures them)
  writing `L/centred`, the Div by `L.std` writing `L`.

A position embedding (the Add of a constant 1×N×D to an N×D sequence) and the taking of
one token (a Gather of a scalar on the tokens' axis) are one op each.
"""
from __future__ import annotations

import numpy as np

from nnc.ir.kinds.lecun import RBF, rbf_codes

RBF_SEED = next(a.default for a in RBF.attrs if a.name == "seed")


class ScopeReader:
    """The helpers the patterns share; `r` is the raise_.Reader walking the graph."""

    def __init__(self, r):
        self.r = r

    def producer(self, tensor: str, op: str):
        node = self.r.producer.get(tensor)
        return node if node is not None and node.op_type == op else None

    def absorb(self, scope: str, *but: str) -> None:
        """Every op output inside `scope` (`scope/…`, and `scope` itself) except `but`,
        read as part of the layer."""
        for node in self.r.graph.node:
            out = node.output[0]
            if (out == scope or out.startswith(f"{scope}/")) and out not in but:
                self.r.absorbed.add(out)


def read_patches(r, node, unreadable) -> None:
    """The Reshape `L/flat` after a Conv writing `L/conv`: that conv, already read, is
    the patch embedding, its tokens what the Transpose `L` gives."""
    scope = node.output[0].rpartition("/")[0]
    conv = r.nodes.get(r.layer_of.get(node.input[0], ""))
    after = r.only_reader(node.output[0])
    if not node.output[0].endswith("/flat") or node.input[0] != f"{scope}/conv" or \
            conv is None or after is None or after.op_type != "Transpose" or \
            after.output[0] != scope:
        raise unreadable("a reshape that is not a patch embedding's")
    a = conv.attrs
    if a["stride"] != a["kernel"] or a["padding"] != "valid" or not a["bias"] or \
            a.get("groups") != 1:  # a plain conv's (a depthwise one has no groups)
        raise unreadable("a patch embedding's conv that is not P×P with stride P")
    conv.kind, conv.op = "patch", "Conv+Reshape"
    conv.attrs = {"size": a["kernel"], "features": a["filters"]}
    conv.shape = r.shape(scope)
    r.layer_of[node.output[0]] = conv.name


def read_class_token(r, node, unreadable) -> None:
    """`L/shape`, the first op of a class token (see the module's docstring)."""
    scope = node.output[0].rpartition("/")[0]
    scopes = ScopeReader(r)
    joined, expand = scopes.producer(scope, "Concat"), scopes.producer(f"{scope}/tokens",
                                                                       "Expand")
    x = node.input[0]
    if joined is None or expand is None or list(joined.input) != [f"{scope}/tokens", x] or \
            np.shape(r.constants.get(expand.input[0])) != (1, 1, r.shape(x)[-1]):
        raise unreadable("a shape read that is not a class token's")
    n, d = r.shape(x)
    r.add(node, "classtoken", {}, [x], scope, scope).shape = (n + 1, d)  # shape inference
    scopes.absorb(scope)                                   # cannot see through the Expand


def read_attention(r, node, unreadable) -> bool:
    """`L/query`, the first op of self-attention; False where the MatMul is not one."""
    scope, _, part = node.output[0].rpartition("/")
    scopes = ScopeReader(r)
    x = node.input[0]
    projections = [scopes.producer(f"{scope}/{what}", "MatMul")
                   for what in ("query", "key", "value")]
    heads_shape = r.constants.get(f"{scope}/query_shape")
    if part != "query" or any(p is None or p.input[0] != x for p in projections) or \
            heads_shape is None or scopes.producer(f"{scope}/weights", "Softmax") is None \
            or scope not in r.producer:
        return False
    h, k = (int(v) for v in heads_shape[2:])
    d = r.shape(x)[-1]
    bias = f"{scope}/query_biased" in r.producer
    r.add(node, "attention", {"heads": h, "key_size": None if h * k == d else k,
                              "bias": bias, "dropout": 0.0}, [x], scope, scope)
    scopes.absorb(scope)
    return True


def read_gelu(r, node) -> bool:
    """A Mul by a scalar whose only reader is an Erf: GELU's first op, the whole
    activation read at once (fused into the fc before it, by its name)."""
    erf = r.only_reader(node.output[0])
    one_plus = erf and r.only_reader(erf.output[0])
    final = one_plus and r.only_reader(one_plus.output[0])
    if erf is None or erf.op_type != "Erf" or one_plus is None or \
            one_plus.op_type != "Add" or final is None or final.op_type != "Mul":
        return False
    x = next(i for i in node.input if i not in r.constants)
    half = next((r.producer.get(i) for i in final.input if i != one_plus.output[0]), None)
    if half is None or half.op_type != "Mul" or x not in half.input:
        return False
    r.absorbed.update({erf.output[0], one_plus.output[0], half.output[0], final.output[0]})
    r.activation(final, "gelu", x)
    return True


def read_position_embedding(r, node) -> bool:
    """The Add of a constant 1×N×D to an N×D sequence: one learned vector a position."""
    x = next((i for i in node.input if i not in r.constants), None)
    constant = next((r.constants[i] for i in node.input if i in r.constants), None)
    shape = r.nodes[r.layer_of[x]].shape if x in r.layer_of else ()
    if len(shape) != 2 or np.shape(constant) != (1, *shape):
        return False
    r.add(node, "posembed", {}, [x], node.output[0]).shape = shape
    return True


def read_token(r, node, unreadable) -> None:
    index = r.constants.get(node.input[1])
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    if index is None or np.ndim(index) != 0 or axis != 1 or len(r.shape(node.input[0])) != 2:
        raise unreadable("a gather that is not one token of a sequence")
    r.add(node, "token", {"index": int(index)}, [node.input[0]], node.output[0])


def read_squash(r, node) -> bool:
    """A Mul by a scalar whose only reader is a Tanh, itself read by a Mul: squash."""
    tanh = r.only_reader(node.output[0])
    final = tanh and r.only_reader(tanh.output[0])
    if tanh is None or tanh.op_type != "Tanh" or final is None or final.op_type != "Mul" \
            or not any(i in r.constants for i in final.input):
        return False
    r.absorbed.update({tanh.output[0], final.output[0]})
    r.activation(final, "squash", next(i for i in node.input if i not in r.constants))
    return True


def read_subsample(r, node, kernel, stride, rounding) -> bool:
    """The AveragePool `L/mean` of LeCun's subsampling (see the module's docstring)."""
    scope, _, part = node.output[0].rpartition("/")
    scaled = r.only_reader(node.output[0])
    shifted = scaled and r.only_reader(scaled.output[0])
    if part != "mean" or scaled is None or scaled.op_type != "Mul" or shifted is None or \
            shifted.op_type != "Add" or not any(i in r.constants for i in shifted.input):
        return False
    r.absorbed.update({scaled.output[0], shifted.output[0]})
    r.add(node, "subsample", {"size": kernel, "stride": None if stride == kernel else stride,
                              "rounding": rounding, "activation": "none"},
          [node.input[0]], shifted.output[0], scope)
    r.layer_of[node.output[0]] = r.layer_of[scaled.output[0]] = scope
    return True


def read_difference(r, node, unreadable) -> None:
    """A Sub: an RBF layer's `L/difference`, or a normalize's `L/centred`."""
    scope, _, part = node.output[0].rpartition("/")
    constant = r.constants.get(node.input[1])
    if part == "difference" and constant is not None and \
            ScopeReader(r).producer(scope, "Neg") is not None:
        read_rbf(r, node, scope, constant)
    elif part == "centred" and node.input[1].rpartition(".")[2] in ("mean", "measured_mean"):
        read_normalize(r, node, scope)
    else:
        raise unreadable("a subtraction that is neither an RBF layer's nor a normalize's")
    ScopeReader(r).absorb(scope)


def read_rbf(r, node, scope: str, codes) -> None:
    """The ±1 codes (input × unit); those the kind's default seed draws are left out."""
    inputs, units = codes.shape
    rows = tuple("".join("X" if codes[j, i] > 0 else "." for j in range(inputs))
                 for i in range(units))
    drawn = tuple(rbf_codes(units, inputs, RBF_SEED)) == rows
    r.add(node, "rbf", {"units": units, "codes": None if drawn else rows},
          [node.input[0]], scope, scope)


def read_normalize(r, node, scope: str) -> None:
    divide = r.producer.get(scope)
    if node.input[1].endswith(".measured_mean"):
        attrs = {}
    else:
        mean, std = (r.constants[i].reshape(-1) for i in (node.input[1], divide.input[1]))
        attrs = {"mean": tuple(float(f"{v:.7g}") for v in mean),
                 "std": tuple(float(f"{v:.7g}") for v in std)}
    r.add(node, "normalize", attrs, [node.input[0]], scope, scope)


def connection_table(node, weight) -> dict:
    """A kernel nnc names `.table_kernel` holds a connection table: a pair of maps is
    connected where its kh×kw weights are not all zero (a connected pair trained to
    exactly zero everywhere would read as unconnected)."""
    if not node.input[1].endswith(".table_kernel"):
        return {}
    linked = np.any(weight != 0, axis=(2, 3))  # filters × input maps
    return {"table": tuple("".join("X" if mark else "." for mark in row)
                           for row in linked.T)}


def layer_scale(gamma) -> dict:
    """Its γ started at `init`: written where every γ still has the same value."""
    values = np.unique(gamma)
    return {"init": float(f"{values[0]:.7g}")} if len(values) == 1 else {}

