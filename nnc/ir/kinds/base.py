"""The one registry of layer kinds, and what kinds share.

Each kind states, in one class: its attributes and defaults, how the .arch short form
(`conv3-64/2`) fills them, its output-shape rule, its parameter, MAC and connection
counts, its receptive-field window and how the papers word it. Shape checks, stats,
receptive fields and tables all read this table. A kind knows nothing of any backend:
each backend has its own lowering table (nnc/backends/*/lowering.py), checked against
KINDS when it is imported.

Shapes are tuples without the batch axis, as Keras writes them: (H, W, C) maps, (N, D)
sequences of N tokens (transformers) or (C,) vectors.
Rules raise ArchShapeError without a position; the graph builder adds it.
"""
from __future__ import annotations

from nnc.errors import ArchShapeError
from nnc.ir.attrs import REQUIRED, Attr, Expression, written
from nnc.wording import dims

ACTIVATIONS = ("none", "relu", "relu6", "tanh", "sigmoid", "softmax", "squash", "swish",
               "hard_sigmoid", "hard_swish", "gelu")
GATES = ("sigmoid", "hard_sigmoid")  # activations whose values lie in [0, 1]
# Activations whose derivative is not a function of their output, so that their backward
# pass reads their input: ReLU's, sigmoid's or tanh's can be had from the output alone.
READS_INPUT = ("swish", "hard_swish", "gelu")
RULES = ("shape", "params", "macs", "connections", "window")
KINDS: dict[str, "Kind"] = {}


def register(cls):
    """Add a kind to KINDS. A kind that lacks any rule is a bug in nnc, caught at import,
    so no layer is ever counted as zero because someone forgot its cost."""
    missing = [rule for rule in RULES if getattr(cls, rule) is getattr(Kind, rule)]
    if missing:
        raise TypeError(f"layer kind '{cls.name}' has no {', '.join(missing)} rule")
    KINDS[cls.name] = cls()
    return cls


def is_minor(name: str) -> bool:
    """Whether `name` is a minor kind (see Kind.minor). Names that are not kinds
    (blocks) are never minor."""
    kind = KINDS.get(name)
    return kind is not None and kind.minor


def spatial(shape, what: str):
    if len(shape) != 3:
        raise ArchShapeError(f"{what} needs an H×W×C input. Received: input {dims(shape)}")
    return shape


class Kind:
    name = ""
    doc = ""
    attrs: tuple[Attr, ...] = ()
    short: tuple[str | None, str | None, str | None] = (None, None, None)
    positional: tuple[str, ...] = ()
    weight_layer = False  # counts toward the paper's depth ("16 weight layers")
    sliding = False       # slides a window: its patch size/stride is a table column
    internal = False      # made by the compiler (add, concat...), not written in files
    arity = 1             # number of inputs; None means two or more
    border = 0.0          # the value explicit padding adds: zeros, or max pooling's −∞
    normalization = False # subtracts a per-channel mean: a bias just before it is wasted,
                          # and a projection shortcut gets one where the body has one
    stochastic = False    # random while training, the identity at inference (dropout)
    concatenates = False  # joins branches side by side along the channels
    scales = False        # multiplies its first input by its second (a gate's values)
    starts_small = False  # multiplies by a learned scale started near 0 (layer scale)
    mixes_positions = False  # every output reads every position of its input (attention):
                             # the receptive field is the whole image
    passes_on = False     # the output is the input, unchanged (identity): what an importer
                          # writes for a concat's branch that has no layers
    in_place = False      # element-wise: may write over its input's buffer, as frameworks
                          # run activations and dropout (memory.buffer_owners says when)
    view = False          # its output is its input's values, at most reshaped (identity,
                          # flatten): it shares the buffer whatever else reads it
    backward_reads = "inputs"  # what its backward pass reads of the forward values,
                               # kept for it: "inputs", "output" or "nothing"

    @property
    def minor(self) -> bool:
        """Layers a paper's table leaves out of a row's type (bn, relu, dropout...):
        neither weighted nor sliding."""
        return not (self.weight_layer or self.sliding)

    def describe(self, a, strides: bool = True) -> str:
        """How the papers' tables write this layer (`3×3, 64, stride 2`); without
        strides for the bracketed blocks of ResNet's Table 1."""
        return self.name

    def arch_text(self, a, defaults: dict | None = None) -> str:
        """The layer written back as an .arch unit (`conv7-64/2(padding=3)`): the short
        form where the value fits it, then every other attribute that differs from
        `defaults` (the file's `default` lines, by attribute) or the kind's own default,
        the leading positional ones by value (`attention(12)`, `dropout(0.1)`).
        A value may be an Expression on block parameters (`{4*w}` in the short form)."""
        defaults = defaults or {}
        text, options = self.name, {}
        size, width, stride = (self.short_part(slot, a.get(slot)) for slot in self.short)
        for attr in self.attrs:
            value = a.get(attr.name, attr.default)
            default = defaults.get(attr.name, attr.default)
            slot = (size, width, stride)[self.short.index(attr.name)] \
                if attr.name in self.short else None
            if slot:
                continue
            if value is None or value is REQUIRED or (value == default and not (
                    isinstance(value, Expression) or isinstance(default, Expression))):
                continue
            options[attr.name] = written(value)
        text += (size or "") + (f"-{width}" if width else "") + (f"/{stride}" if stride else "")
        leading = []
        for name in (p for p in self.positional if p not in self.short):
            if name not in options:
                break
            leading.append(options.pop(name))
        options = leading + [f"{name}={value}" for name, value in options.items()]
        return text + (f"({', '.join(options)})" if options else "")

    def short_part(self, slot: str | None, value) -> str | None:
        """How one value fits the short form (`7` or `1x7` after the name, `-{w}`, `/2`),
        or None where it does not: a kernel that is an expression is an option."""
        if slot is None or value is None:
            return None
        attr = next(x for x in self.attrs if x.name == slot)
        if isinstance(value, Expression):
            return None if slot == self.short[0] else f"{{{value}}}"
        if attr.type == "pair":
            if value == attr.default:  # `maxpool` for 2×2, no `/1`
                return None
            h, w = value
            return (str(h) if h == w else f"{h}x{w}") if slot == self.short[0] else \
                (str(h) if h == w else None)
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else None

    def applied_activation(self, a) -> str | None:
        """The activation the layer applies last: its `activation` attribute
        (`conv3-64(activation=relu)`); an activation layer's is its own function."""
        return a.get("activation")

    def outputs(self, a) -> str:
        """What the layer's values mean when it ends a network, for the loss that trains
        them: "logits" (the default), "probabilities" (a softmax) or "distances"
        (negative squared distances of RBF units, trained with LeCun's MAP loss)."""
        return "probabilities" if self.applied_activation(a) == "softmax" else "logits"

    def gates(self, a) -> bool:
        """Whether its values lie in [0, 1], so that they can gate another layer's values
        (the end of a squeeze-and-excitation branch)."""
        return self.applied_activation(a) in GATES

    def reads_for_backward(self, a) -> str:
        """What its backward pass reads of the forward pass's values, which training
        keeps: "inputs" (a weight layer for its weight gradient, pooling, a gate, LRN),
        "output" (ReLU, sigmoid, tanh, softmax: their derivative is a function of their
        output) or "nothing" (a sum, a concat, a reshape, padding, a fixed rescale, and
        dropout, which reads its mask). Swish, hard-swish and GELU read their input."""
        if self.backward_reads == "output" and self.activation_reads_input(a):
            return "inputs"
        return self.backward_reads

    def activation_reads_input(self, a) -> bool:
        """Whether the backward pass of the activation it applies reads the values before
        the activation (swish, hard-swish, GELU), so that training keeps them besides
        the output; ReLU's and sigmoid's need only the output."""
        return self.applied_activation(a) in READS_INPUT

    def resolve(self, a, ins) -> dict:
        """The attributes once the input shapes are known: for a width written relative
        to the input (conv's expansion), the absolute one. Most kinds need nothing."""
        return a

    def shape(self, a, ins): ...
    def params(self, a, ins, out) -> tuple[int, int]: ...  # (trainable, non-trainable)
    def macs(self, a, ins, out) -> int: ...
    def connections(self, a, ins, out) -> int: ...
    def window(self, a, ins) -> tuple[tuple[int, int], tuple[int, int]]: ...

    def scratch(self, a, ins, out) -> int:
        """Values the layer holds while it runs besides its output, which training also
        keeps for the backward pass (attention's queries, keys, values and weights over
        the sequence). The memory figures add them; most kinds hold none."""
        return 0

    def saved(self, a, out) -> int:
        """Values besides its inputs and output that its backward pass reads, which
        training keeps (LRN's scale); most kinds save none."""
        return 0

    def mask_bytes(self, a, out) -> int:
        """Bytes of the random mask a stochastic layer draws while training, which its
        backward pass reads instead of its values; deterministic layers draw none."""
        return 0

    def window_start(self, a, ins) -> tuple:
        """Where the first output's window starts, in input positions before the first
        one (the padding at the top and left; for a layer that upsamples, the fraction of
        an input step by which its first outputs reach back). The receptive fields place
        each layer's field with it, so that fields of branches that meet off centre (a
        cropped skip) join as they lie."""
        return 0, 0

    def reads(self, a, ins, axis: int, outputs):
        """The first and last input positions (along `axis`, 0 for rows) that each of
        the output positions `outputs` (a NumPy array) reads: from the window and where it
        starts, for layers that do not upsample. Positions before 0 or past the end are
        padding."""
        kernel, stride = (w[axis] for w in self.window(a, ins))
        first = outputs * int(stride) - self.window_start(a, ins)[axis]
        return first, first + int(kernel) - 1


class Pointwise(Kind):
    """Layers that act on each value (or each position) alone: the output has the
    input's shape, there are no weights (unless a subclass says otherwise), no
    multiply-accumulates (the papers count conv and fc only) and no connections (LeCun
    counts those of weighted and pooling layers), and the receptive field does not grow."""

    def shape(self, a, ins):
        return ins[0]

    def params(self, a, ins, out):
        return 0, 0

    def macs(self, a, ins, out):
        return 0

    def connections(self, a, ins, out):
        return 0

    def window(self, a, ins):
        return (1, 1), (1, 1)


def same_padding(size: int, kernel: int, stride: int) -> int:
    """The rows (or columns) 'same' padding adds in all, as Keras and TensorFlow compute
    it; an odd total puts the extra one at the bottom (right)."""
    return max((-(-size // stride) - 1) * stride + kernel - size, 0)


def padding_before(a, shape) -> tuple[int, int]:
    """Rows and columns of padding before the first window of a conv or pool."""
    if a["padding"] == "valid":
        return 0, 0
    if a["padding"] != "same":
        return a["padding"]
    return tuple(same_padding(n, k, s) // 2
                 for n, k, s in zip(shape[:2], a["kernel"], a["stride"]))


def stride_text(stride) -> str:
    """How the papers' tables write a stride: `, stride 2`, or `, stride 1×2`."""
    sh, sw = stride
    return f", stride {sh if sh == sw else f'{sh}×{sw}'}"


BIAS_AND_ACTIVATION = (Attr("bias", "bool", True),
                       Attr("activation", "choice", "none", ACTIVATIONS))


class SlidingKernel(Kind):
    """A weight layer that slides a kernel over H×W with the window attributes (conv,
    dwconv, sepconv): its window is its kernel and stride, placed by its padding."""
    weight_layer = True
    sliding = True

    def window(self, a, ins):
        return a["kernel"], a["stride"]

    def window_start(self, a, ins):
        return padding_before(a, ins[0])


def spatial_output(a, shape, what: str, can_ceil: bool = False) -> tuple[int, int]:
    """Output height and width of a sliding window (conv or pool) over `shape`;
    `can_ceil` for the pools, which may round up as Caffe does."""
    h, w, _ = spatial(shape, what)
    (kh, kw), (sh, sw), pad = a["kernel"], a["stride"], a["padding"]
    if pad == "same":
        return -(-h // sh), -(-w // sw)
    pads = (0, 0) if pad == "valid" else pad
    spans = (h + 2 * pads[0] - kh, w + 2 * pads[1] - kw)
    if min(spans) < 0:
        padding = "'valid' padding" if pad == "valid" else f"padding {pads[0]}"
        raise ArchShapeError(
            f"input is {dims(shape)}, but a {kh}×{kw} kernel with {padding} needs at "
            f"least {max(kh - 2 * pads[0], 1)}×{max(kw - 2 * pads[1], 1)}. "
            f"Received: input {dims(shape)}")
    for size, p, k, s, span in ((h, pads[0], kh, sh, spans[0]), (w, pads[1], kw, sw, spans[1])):
        if span % s and a["rounding"] == "exact":
            ceil = " or rounding=ceil to pool them as Caffe does" if can_ceil else ""
            raise ArchShapeError(
                f"({size} + 2·{p} - {k})/{s} + 1 = {span / s + 1:g} is not a whole number "
                f"of positions: the last {span % s} row(s) or column(s) would be ignored. "
                f"Change the input size or padding, or add rounding=floor to drop them as "
                f"Keras and PyTorch do{ceil}. Received: input {dims(shape)}")
    if a["rounding"] == "ceil":
        return tuple(ceil_positions(size, p, s, span) for size, p, s, span in
                     ((h, pads[0], sh, spans[0]), (w, pads[1], sw, spans[1])))
    return spans[0] // sh + 1, spans[1] // sw + 1


def ceil_positions(size: int, pad: int, stride: int, span: int) -> int:
    """Caffe's (and PyTorch's ceil_mode) output size: windows until the input is covered,
    the last one overhanging it, but never one that starts in the bottom padding."""
    positions = -(-span // stride) + 1
    return positions - 1 if (positions - 1) * stride >= size + pad else positions


def ceil_overhang(size: int, pad: int, kernel: int, stride: int, positions: int) -> int:
    """Rows (or columns) past the bottom padding that the last window of a ceil-rounded
    pool covers: the lowering pads them, and an average leaves them out of its count."""
    return max((positions - 1) * stride + kernel - size - 2 * pad, 0)


WINDOW_ATTRS = (
    Attr("stride", "pair", (1, 1), doc="step of the window; `/2` in the short form"),
    Attr("padding", "padding", "same", doc="same, valid, or explicit zero rows/columns"),
    Attr("rounding", "choice", "exact", ("exact", "floor"),
         doc="exact: an output size that is not whole is an error; floor: drop the rest"),
)
