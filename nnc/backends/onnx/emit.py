"""The ONNX graph under construction: nodes, initializers and the weights they hold.

Layout. nnc's shapes are Keras's, channels last; ONNX's convolutions and pools are
channels first. The graph takes and gives tensors as nnc's shapes say (a batch of
H×W×C images in, H×W×C maps out), and holds maps as N×C×H×W inside: one Transpose after
the input and one before a map output, or before a flatten (whose order, H then W then
C, is Keras's). Vectors (N×C) and sequences (N×tokens×D) are the same in both.

Weights. A layer's weights come in the order and layout the Keras layer named after it
holds them (`model.get_layer(name).get_weights()`, with nnc's grouped convs joined into
one kernel: see nnc/backends/keras/weights.py), so a trained model's weights pass over
by name. Without them, each is drawn as Keras draws it: Glorot-uniform kernels, zero
biases, unit scales. The lowering turns them into ONNX's layouts.

Every tensor a layer gives is named after the layer (`conv4_x.3.conv2`); the nodes and
tensors it needs on the way are named `<layer>/<what>`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper

TO_CHANNELS_FIRST, TO_CHANNELS_LAST = (0, 3, 1, 2), (0, 2, 3, 1)


@dataclass
class Site:
    """One layer being lowered: its kind and attributes, its name, the shapes and
    tensors of its inputs (channels first where maps), its output shape (nnc's)."""
    kind: object
    attrs: dict
    name: str
    ins: list[tuple]
    inputs: list[str]
    out: tuple


def is_map(shape) -> bool:
    return len(shape) == 3


def channels_first(shape) -> tuple:
    """The ONNX shape (batch first) of a tensor of nnc shape `shape`."""
    return ("batch", shape[2], shape[0], shape[1]) if is_map(shape) else ("batch", *shape)


class Emitter:
    """Collects the nodes and initializers of one graph. `trained` maps layer names to
    their weights (see the module's docstring); `seed` draws the others."""

    def __init__(self, trained: dict | None = None, seed: int = 0):
        self.nodes: list = []
        self.initializers: list = []
        self.trained = trained
        self.rng = np.random.default_rng(seed)
        self.weights: dict[str, list[np.ndarray]] = {}  # layer -> its weights, as used
        self.doc = ""  # the row and position of the layer being lowered, on its nodes

    # --- nodes --------------------------------------------------------------------
    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output,
                                           doc_string=self.doc, **attributes))
        return output

    def constant(self, name: str, value, dtype=np.float32) -> str:
        """A constant (a shape, a mask, a scale) that is not one of the layer's weights."""
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def ints(self, name: str, values) -> str:
        return self.constant(name, values, np.int64)

    def transpose(self, tensor: str, perm, output: str) -> str:
        return self.node("Transpose", [tensor], output, perm=list(perm))

    # --- weights ------------------------------------------------------------------
    def weight(self, site: Site, index: int, shape: tuple, initial) -> np.ndarray:
        """The layer's weight number `index` in Keras's layout: the trained one, or one
        drawn by `initial(shape, rng)`."""
        if self.trained is not None:
            value = np.asarray(self.trained[site.name][index], np.float32)
            if value.shape != tuple(shape):
                raise ValueError(f"{site.name}: weight {index} has shape {value.shape}, "
                                 f"where the network needs {tuple(shape)}")
        else:
            value = np.asarray(initial(tuple(shape), self.rng), np.float32)
        self.weights.setdefault(site.name, []).append(value)
        return value

    def parameter(self, site: Site, what: str, value) -> str:
        """A weight, in ONNX's layout, as an initializer named `<layer>.<what>`."""
        name = f"{site.name}.{what}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name


def to_oihw(kernel) -> np.ndarray:
    """Keras's kh×kw×C×F kernel as ONNX's F×C×kh×kw."""
    return np.transpose(kernel, (3, 2, 0, 1))


def glorot(shape, rng) -> np.ndarray:
    """Keras's default kernel: uniform in ±√(6/(fan_in + fan_out)), the fans counted as
    Keras counts them (the last two axes, times the rest)."""
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in, fan_out = (shape[-2] if len(shape) > 1 else shape[0]) * receptive, shape[-1] * receptive
    limit = math.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def zeros(shape, rng) -> np.ndarray:
    return np.zeros(shape)


def ones(shape, rng) -> np.ndarray:
    return np.ones(shape)


def filled(value: float):
    return lambda shape, rng: np.full(shape, value)


def small_normal(shape, rng) -> np.ndarray:
    return rng.normal(0, 0.02, shape)
