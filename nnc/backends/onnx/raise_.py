"""The ONNX raising table, the lowering table read backwards: ONNX nodes (opset 17, as
nnc writes them and as PyTorch exports them) back to nnc kinds, with the `onnx` package
alone (no TensorFlow, no Keras, no onnxruntime).

Most ops are one layer. A few layers are several ops, and come back as one:
- a conv's or fc's activation: nnc names the tensor before it `<layer>/conv` (or
  `/linear`, `/pointwise`), so the activation that writes `<layer>` is the layer's own;
  elsewhere (PyTorch) an activation stays a layer of its own, as the model has it;
- swish is x·sigmoid(x); a separable conv is a depthwise Conv writing `<layer>/depthwise`
  and the 1×1 Conv after it; an fc is MatMul and an Add of its bias, or Gemm;
- the transposes between channels-last and channels-first, the flatten before an fc
  (an fc flattens maps itself), the unsqueeze of a gate's vector carry no layer;
- a global pool and the flatten after it are one global `avgpool`.
Where a Pad before a conv or pool can be its padding, it is (nnc.present.imported.
fold_padding). What is left unread is an Unsupported: its node, its op, why.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from nnc.backends.onnx import patterns
from nnc.errors import NncError
from nnc.ir.kinds.base import same_padding
from nnc.present.imported import Imported, Node, Unsupported, fold_padding

TO_CHANNELS_FIRST = [0, 3, 1, 2]
ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
                  "HardSigmoid": "hard_sigmoid", "HardSwish": "hard_swish", "Softmax": "softmax"}
PRE_ACTIVATION = ("conv", "linear", "pointwise", "shifted")  # nnc's names before one
PADDED_BY = {"Pad": ("conv", "dwconv", "sepconv", "avgpool"), "Pad(-inf)": ("maxpool",)}


class Unreadable(Exception):
    """An op (or its options) the language has no kind for; the message says why."""


def layer_name(name: str) -> str:
    """PyTorch's scoped node names (`/layer1/layer1.0/conv1/Conv`) as its module path
    (`layer1.0.conv1`); other names as they are."""
    if not name.startswith("/"):
        return name
    parts = name.strip("/").split("/")[:-1] or [name.strip("/")]
    dotted = [i for i, p in enumerate(parts) if "." in p]
    start = dotted[-1] if dotted else 0
    return ".".join(parts[start:]) if dotted else ".".join(parts)


class Reader:
    """Walks the graph in order; `layers` maps each tensor to the Node that gives it."""

    def __init__(self, model: onnx.ModelProto):
        model = onnx.shape_inference.infer_shapes(model)
        graph = model.graph
        self.constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.dims = {v.name: [d.dim_value or None for d in v.type.tensor_type.shape.dim]
                     for v in (*graph.value_info, *graph.input, *graph.output)}
        self.producer = {o: n for n in graph.node for o in n.output}
        self.readers: dict[str, list] = {}
        for node in graph.node:
            for i in node.input:
                self.readers.setdefault(i, []).append(node)
        self.graph, self.nodes, self.unsupported = graph, {}, []
        self.layer_of: dict[str, str] = {}   # tensor -> the layer that gives it
        self.names: set = set()
        self.absorbed: set = set()           # tensors read as part of a layer before

    # --- shapes and names ---------------------------------------------------------
    def shape(self, tensor: str) -> tuple:
        """nnc's shape of a tensor: H×W×C for a channels-first map, else as it is."""
        dims = tuple((self.dims.get(tensor) or [None])[1:])
        return (dims[1], dims[2], dims[0]) if len(dims) == 3 else dims

    def unique(self, name: str) -> str:
        name, base, n = layer_name(name), layer_name(name), 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def add(self, onnx_node, kind: str, attrs: dict, inputs: list[str], output: str,
            name: str | None = None) -> Node:
        unknown = [i for i in inputs if i not in self.layer_of]
        if unknown:
            raise Unreadable(f"it reads '{unknown[0]}', which ops that were not read compute")
        node = Node(self.unique(name or output), kind, attrs,
                    tuple(self.layer_of[i] for i in inputs), self.shape(output), onnx_node.op_type)
        self.nodes[node.name] = node
        self.layer_of[output] = node.name
        return node

    def alias(self, output: str, tensor: str) -> None:
        if tensor not in self.layer_of:
            raise Unreadable(f"it reads '{tensor}', which ops that were not read compute")
        self.layer_of[output] = self.layer_of[tensor]

    def only_reader(self, tensor: str):
        readers = self.readers.get(tensor, [])
        return readers[0] if len(readers) == 1 else None

    # --- the walk -------------------------------------------------------------------
    def read(self) -> Imported:
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise NncError(f"a network has one input; this model has {len(inputs)}. "
                           f"Received: {', '.join(i.name for i in inputs)}")
        (graph_input,) = inputs
        dims = self.dims[graph_input.name][1:]
        reader = self.only_reader(graph_input.name)
        channels_last = reader is not None and reader.op_type == "Transpose" and \
            list(attribute(reader, "perm")) == TO_CHANNELS_FIRST
        shape = tuple(dims) if channels_last or len(dims) != 3 else (dims[1], dims[2], dims[0])
        if None in shape:
            raise NncError(f"the model's input '{graph_input.name}' has no fixed size; "
                           f"export it with one. Received: {dims}")
        node = Node(self.unique(graph_input.name), "input", {"shape": shape}, (), shape, "input")
        self.nodes[node.name] = node
        self.layer_of[graph_input.name] = node.name
        for onnx_node in self.graph.node:
            self.read_node(onnx_node)
        fold_padding(self.nodes, self.unsupported, PADDED_BY, kept=("Pad",))
        outputs = [self.layer_of[o.name] for o in self.graph.output if o.name in self.layer_of]
        if len(outputs) != len(self.graph.output):
            self.unsupported.append(Unsupported(self.graph.output[0].name, "output",
                                                "computed by ops that were not read"))
            outputs = [list(self.nodes)[-1]]
        return Imported(self.graph.name or "imported", self.nodes, node.name, outputs,
                        self.unsupported)

    def read_node(self, onnx_node) -> None:
        op = onnx_node.op_type
        if onnx_node.output[0] in self.absorbed:  # read with the layer's first op
            return
        try:
            if op not in READERS:
                raise Unreadable("no nnc kind is lowered to this op")
            READERS[op](self, onnx_node)
        except Unreadable as why:
            self.unsupported.append(Unsupported(layer_name(onnx_node.name or
                                                           onnx_node.output[0]), op, str(why)))
            source = next((i for i in onnx_node.input if i in self.layer_of), None)
            if source is not None:
                self.add(onnx_node, "identity", {}, [source], onnx_node.output[0])

    # --- fusions ----------------------------------------------------------------------
    def fused_activation(self, onnx_node, function: str, x: str) -> bool:
        """The activation of the layer before it, by nnc's naming (see the docstring)."""
        head, _, what = x.rpartition("/")
        output = onnx_node.output[0]
        if x in self.layer_of and head == output and what in PRE_ACTIVATION:
            layer = self.nodes[self.layer_of[x]]
            layer.attrs["activation"] = function
            self.layer_of[output] = layer.name
            return True
        return False

    def activation(self, onnx_node, function: str, x: str | None = None) -> None:
        x = x or onnx_node.input[0]
        if not self.fused_activation(onnx_node, function, x):
            self.add(onnx_node, function, {}, [x], onnx_node.output[0])


def attribute(node, name: str, default=None):
    """A node's attribute; a float as the float32 ONNX holds it writes it (1e-4, not
    9.99999974737875e-05)."""
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return float(f"{value:.7g}") if isinstance(value, float) else value
    return default


def window(reader: Reader, node, kernel) -> dict:
    """Stride, padding and rounding of a Conv or pool node."""
    if any(d != 1 for d in attribute(node, "dilations", [1, 1])):
        raise Unreadable("dilated convolution has no nnc kind")
    stride = tuple(attribute(node, "strides", [1, 1]))
    pads = list(attribute(node, "pads", [0, 0, 0, 0]))
    shape = reader.shape(node.input[0])
    auto = attribute(node, "auto_pad", b"NOTSET")
    same = [same_padding(n, k, s) for n, k, s in zip(shape[:2], kernel, stride)]
    if auto in (b"SAME_UPPER",) or (any(pads) and pads == [same[0] // 2, same[1] // 2,
                                                          same[0] - same[0] // 2,
                                                          same[1] - same[1] // 2]):
        padding = "same"
    elif auto == b"VALID" or not any(pads):
        padding = "valid" if tuple(kernel) != (1, 1) else "same"
    elif pads[:2] == pads[2:]:
        padding = tuple(pads[:2])
    else:
        raise Unreadable(f"uneven padding {pads} that is not 'same'")
    explicit = (0, 0) if padding in ("same", "valid") else padding
    rounding = "exact"
    if padding != "same" and any((n + 2 * p - k) % s for n, p, k, s in
                                 zip(shape[:2], explicit, kernel, stride)):
        rounding = "ceil" if attribute(node, "ceil_mode", 0) else "floor"
    return {"kernel": tuple(kernel), "stride": stride, "padding": padding, "rounding": rounding}


def read_conv(r: Reader, node) -> None:
    weight = r.constants.get(node.input[1])
    if weight is None:
        raise Unreadable("a conv whose kernel is not a constant")
    filters, per_group, kh, kw = weight.shape
    groups, channels = attribute(node, "group", 1), r.shape(node.input[0])[2]
    a = {**window(r, node, (kh, kw)), "bias": len(node.input) > 2}
    output = node.output[0]
    before = r.nodes.get(r.layer_of.get(node.input[0], ""))
    if node.input[0].endswith("/depthwise") and before is not None and \
            before.kind == "dwconv" and (kh, kw) == (1, 1) and groups == 1:
        del r.nodes[before.name]  # nnc's separable conv: the depthwise half is in it
        name = output.rsplit("/", 1)[0] if output.endswith("/pointwise") else output
        separable = r.add(node, "sepconv", {**before.attrs, "filters": filters,
                                            "bias": a["bias"]}, [node.input[0]], output, name)
        separable.inputs = before.inputs
        return
    name = output.rsplit("/", 1)[0] if output.rsplit("/", 1)[-1] in PRE_ACTIVATION else None
    if groups == channels and groups > 1 and per_group == 1:
        r.add(node, "dwconv", {**a, "multiplier": filters // channels, "activation": "none"},
              [node.input[0]], output, name)
    else:
        r.add(node, "conv", {**a, "filters": filters, "groups": groups, "activation": "none",
                             **patterns.connection_table(node, weight)}, [node.input[0]], output, name)


def read_pool(kind: str):
    def read(r: Reader, node) -> None:
        kernel = tuple(attribute(node, "kernel_shape"))
        a = window(r, node, kernel)
        if kind == "avgpool" and patterns.read_subsample(r, node, kernel, a["stride"],
                                                         a["rounding"]):
            return
        if a["padding"] not in ("same", "valid") and kind == "avgpool" and \
                not attribute(node, "count_include_pad", 0):
            raise Unreadable("an average pool that leaves its padding out of the count")
        r.add(node, kind, {"size": kernel, "stride": None if a["stride"] == kernel
                           else a["stride"], "padding":
                           "valid" if a["padding"] == "same" and kernel == (1, 1) else
                           a["padding"], "rounding": a["rounding"]},
              [node.input[0]], node.output[0])
    return read


def read_resize(r: Reader, node) -> None:
    scales = r.constants.get((list(node.input) + ["", "", ""])[2])
    mode = attribute(node, "mode", b"nearest")
    if scales is None or list(scales[:2]) != [1, 1] or mode not in (b"nearest", b"linear"):
        raise Unreadable("a resize other than upsampling by constant factors")
    r.add(node, "upsample", {"size": (int(scales[2]), int(scales[3])),
                             "interpolation": "nearest" if mode == b"nearest" else "bilinear"},
          [node.input[0]], node.output[0])


def read_global_average(r: Reader, node) -> None:
    """The pool writes `<layer>/pool` and a Flatten writes `<layer>` (or PyTorch's
    Flatten follows): one global avgpool, a vector."""
    after = r.only_reader(node.output[0])
    output, name = node.output[0], None
    if after is not None and after.op_type in ("Flatten", "Reshape"):
        output = after.output[0]
        name = output if node.output[0] == f"{output}/pool" else node.output[0]
    r.add(node, "avgpool", {"size": None}, [node.input[0]], output, name)
    r.layer_of[node.output[0]] = r.layer_of[output]


def read_flatten(r: Reader, node) -> None:
    if node.output[0] in r.layer_of:  # the global pool's own
        return
    shape = r.shape(node.input[0])
    after = r.only_reader(node.output[0])
    if len(shape) != 3 or (after is not None and after.op_type in ("MatMul", "Gemm")):
        r.alias(node.output[0], node.input[0])  # an fc flattens maps itself
        return
    r.add(node, "flatten", {}, [node.input[0]], node.output[0])


def read_matmul(r: Reader, node) -> None:
    if patterns.read_attention(r, node, Unreadable):
        return
    weight = r.constants.get(node.input[1])
    if weight is None or weight.ndim != 2:
        raise Unreadable("a product of two computed tensors that is no part of an "
                         "attention layer as nnc writes it")
    after = r.only_reader(node.output[0])
    bias = after is not None and after.op_type == "Add" and \
        any(i in r.constants for i in after.input)
    output = after.output[0] if bias else node.output[0]
    name = output.rsplit("/", 1)[0] if output.rsplit("/", 1)[-1] in PRE_ACTIVATION else None
    r.add(node, "fc", {"units": weight.shape[1], "bias": bias, "activation": "none"},
          [node.input[0]], output, name)
    if bias:
        r.layer_of[node.output[0]] = r.layer_of[output]
        r.absorbed.add(after.output[0])


def read_gemm(r: Reader, node) -> None:
    weight = r.constants.get(node.input[1])
    if weight is None:
        raise Unreadable("a Gemm whose weights are not a constant")
    units = weight.shape[0] if attribute(node, "transB", 0) else weight.shape[1]
    r.add(node, "fc", {"units": units, "bias": len(node.input) > 2, "activation": "none"},
          [node.input[0]], node.output[0])


def read_add(r: Reader, node) -> None:
    if any(i in r.constants for i in node.input):
        if not patterns.read_position_embedding(r, node):
            read_offset(r, node)
        return
    r.add(node, "add", {}, list(node.input), node.output[0])


def read_offset(r: Reader, node) -> None:
    """x·scale + offset (Keras's Rescaling): a Mul by a scalar, then an Add of one."""
    x, offset = (i for i in node.input if i not in r.constants), \
        next(r.constants[i] for i in node.input if i in r.constants)
    x = next(x)
    layer = r.nodes.get(r.layer_of.get(x, ""))
    if layer is None or layer.kind != "rescale" or np.size(offset) != 1:
        raise Unreadable("an addition of a constant that is no layer's bias")
    layer.attrs["offset"] = float(offset)
    r.layer_of[node.output[0]] = layer.name


def read_mul(r: Reader, node) -> None:
    constants = [i for i in node.input if i in r.constants]
    if constants:
        value = r.constants[constants[0]]
        x = next(i for i in node.input if i not in r.constants)
        if np.size(value) == r.shape(x)[-1] > 1:  # one factor per channel
            r.add(node, "layerscale", patterns.layer_scale(value), [x], node.output[0])
            return
        if np.size(value) != 1:
            raise Unreadable("a product with a constant that is neither a scalar nor one "
                             "factor per channel")
        if patterns.read_gelu(r, node) or patterns.read_squash(r, node):
            return
        r.add(node, "rescale", {"scale": float(value), "offset": 0.0}, [x], node.output[0])
        return
    x, y = node.input
    for a, b in ((x, y), (y, x)):
        gate = r.producer.get(b)
        if gate is not None and gate.op_type == "Sigmoid" and gate.input[0] == a:
            r.activation(node, "swish", a)
            return
    r.add(node, "multiply", {}, [x, y], node.output[0])


def read_sigmoid(r: Reader, node) -> None:
    after = r.only_reader(node.output[0])
    if after is not None and after.op_type == "Mul" and node.input[0] in after.input:
        return  # swish: read at the Mul
    r.activation(node, "sigmoid")


def read_clip(r: Reader, node) -> None:
    low, high = (float(r.constants[i]) if i in r.constants else None
                 for i in (list(node.input) + ["", ""])[1:3])
    if (low, high) != (0.0, 6.0):
        raise Unreadable(f"a clip to [{low}, {high}], not relu6's [0, 6]")
    r.activation(node, "relu6")


def read_slice(r: Reader, node) -> None:
    """Option A's subsampling (every stride-th row and column; the Pad of zero maps
    after it completes the shortcut), or a skip's centred crop."""
    starts, ends, axes, steps = (list(r.constants.get(i, [])) for i in
                                 (list(node.input) + ["", ""])[1:5])
    h, w, c = r.shape(node.input[0])
    if list(axes) != [2, 3]:
        raise Unreadable("a slice of other axes than rows and columns")
    if not any(starts) and list(ends) == [h, w] and len(set(steps)) == 1:
        r.add(node, "pad_shortcut", {"stride": int(steps[0]), "channels": c},
              [node.input[0]], node.output[0])
        return
    height, width = ends[0] - starts[0], ends[1] - starts[1]
    if set(steps) - {1} or [starts[0] * 2, starts[1] * 2] != [h - height, w - width]:
        raise Unreadable("a slice that is neither option A's subsampling nor a centred crop")
    r.add(node, "crop", {"height": int(height), "width": int(width)}, [node.input[0]],
          node.output[0])


def read_conv_transpose(r: Reader, node) -> None:
    weight = r.constants.get(node.input[1])
    if weight is None or any(attribute(node, "pads", [0, 0, 0, 0])) or \
            any(d != 1 for d in attribute(node, "dilations", [1, 1])):
        raise Unreadable("a transposed conv with padding, dilation or computed weights")
    name = node.output[0].rsplit("/", 1)[0] if node.output[0].endswith("/conv") else None
    r.add(node, "upconv", {"kernel": tuple(attribute(node, "kernel_shape")),
                           "filters": weight.shape[1], "bias": len(node.input) > 2,
                           "stride": None if tuple(attribute(node, "strides", [1, 1])) ==
                           tuple(attribute(node, "kernel_shape")) else
                           tuple(attribute(node, "strides", [1, 1])),
                           "activation": "none"}, [node.input[0]], node.output[0], name)


def read_pad(r: Reader, node) -> None:
    pads = [int(p) for p in r.constants[node.input[1]]]
    border = float(r.constants[node.input[2]]) if len(node.input) > 2 and node.input[2] else 0.0
    before = r.nodes.get(r.layer_of.get(node.input[0], ""))
    if before is not None and before.kind == "pad_shortcut" and not any(pads[:5]) and \
            not any(pads[6:]) and border == 0.0:  # option A's zero maps
        before.attrs["channels"] += pads[5]
        before.shape = r.shape(node.output[0])
        r.layer_of[node.output[0]] = before.name
        return
    if border not in (0.0, float("-inf")) or any(pads[:2]) or any(pads[4:6]):
        raise Unreadable("padding of other axes than rows and columns, or with a constant "
                         "other than zero or −∞")
    top, left, bottom, right = pads[2], pads[3], pads[6], pads[7]
    even = (top, left) == (bottom, right)
    layer = r.add(node, "zeropad", {"size": (top, left) if even else None},
                  [node.input[0]], node.output[0])
    layer.op = "Pad" if border == 0.0 else "Pad(-inf)"


def read_batch_norm(r: Reader, node) -> None:
    r.add(node, "bn", {"epsilon": attribute(node, "epsilon", 1e-5),
                       "momentum": float(attribute(node, "momentum", 0.9))},
          [node.input[0]], node.output[0])


def read_layer_norm(r: Reader, node) -> None:
    """Over the last axis, with γ and β; a map's (put channels last before it) writes
    `<layer>/normalized`."""
    if attribute(node, "axis", -1) != -1 or len(node.input) < 3 or \
            any(i not in r.constants for i in node.input[1:3]):
        raise Unreadable("a layer norm over other axes than the channels, or without β")
    output = node.output[0]
    r.add(node, "layernorm", {"epsilon": attribute(node, "epsilon", 1e-5)}, [node.input[0]],
          output, output.rsplit("/", 1)[0] if output.endswith("/normalized") else None)


def read_concat(r: Reader, node) -> None:
    r.add(node, "concat", {}, list(node.input), node.output[0])


def read_lrn(r: Reader, node) -> None:
    size = attribute(node, "size")
    r.add(node, "lrn", {"size": size, "alpha": float(f"{attribute(node, 'alpha', 1e-4) / size:.7g}"),
                        "beta": attribute(node, "beta", 0.75), "k": attribute(node, "bias", 1.0)},
          [node.input[0]], node.output[0])


def passes_through(r: Reader, node) -> None:
    r.alias(node.output[0], node.input[0])


READERS = {
    "Conv": read_conv,
    "MaxPool": read_pool("maxpool"),
    "AveragePool": read_pool("avgpool"),
    "GlobalAveragePool": read_global_average,
    "Flatten": read_flatten,
    "MatMul": read_matmul,
    "Gemm": read_gemm,
    "Add": read_add,
    "Sum": read_add,
    "Mul": read_mul,
    "Sigmoid": read_sigmoid,
    "Clip": read_clip,
    "Pad": read_pad,
    "Slice": read_slice,
    "ConvTranspose": read_conv_transpose,
    "Resize": read_resize,
    "BatchNormalization": read_batch_norm,
    "Concat": read_concat,
    "LRN": read_lrn,
    "LayerNormalization": read_layer_norm,
    "Reshape": lambda r, node: patterns.read_patches(r, node, Unreadable),
    "Shape": lambda r, node: patterns.read_class_token(r, node, Unreadable),
    "Sub": lambda r, node: patterns.read_difference(r, node, Unreadable),
    "Gather": lambda r, node: patterns.read_token(r, node, Unreadable),
    "Identity": lambda r, node: r.add(node, "identity", {}, [node.input[0]], node.output[0]),
    "Transpose": passes_through,
    "Unsqueeze": passes_through,
    **{op: (lambda function: lambda r, node: r.activation(node, function))(function)
       for op, function in ACTIVATION_OPS.items() if op != "Sigmoid"},
}


def from_onnx(model: onnx.ModelProto) -> Imported:
    return Reader(model).read()
