"""The Python API: what `nnc.load` returns, with the backends' entry points on it.

The stages below the command line never import this module; they pass the plain
Compiled (network and counts) to a backend's functions instead.
"""
from __future__ import annotations

from nnc.analysis.compiled import Compiled, Limits, read_source
from nnc.analysis.compiled import compile_text as compile_checked
from nnc.errors import NncError


class Net(Compiled):
    """A checked network: its graph (`network.graph`) and its counts (`stats`)."""

    def to_keras(self, heads: bool = True, precision: str = "float32", jit: bool = False):
        """The Keras model of this network (imports Keras); heads=False gives the
        inference model, without side heads. See nnc.backends.keras.model.to_keras."""
        from nnc.backends.keras.model import to_keras
        return to_keras(self, heads=heads, precision=precision, jit=jit)

    def build(self, out: str | None = None, format: str | None = None, **options):
        """Lower and save atomically, as `nnc build` does; returns a
        nnc.backends.destination.Built (path, format, size, model: the Keras model, or for ONNX
        the onnx.ModelProto). Options are those of to_keras."""
        from nnc.backends.build import build
        return build(self, out, format, **options)

    def to_onnx(self, heads: bool = True, trained: dict | None = None):
        """The ONNX model (an onnx.ModelProto) of this network, written from the checked
        graph without TensorFlow or Keras; `trained` weights by layer name, as
        nnc.backends.keras.weights.weights_by_layer gives a Keras model's."""
        from nnc.backends.onnx.graph import to_onnx
        return to_onnx(self, heads=heads, trained=trained)

    def _repr_html_(self) -> str:
        """A notebook's display: the totals, the table of `nnc stats`, the diagram."""
        from nnc.present.notebook import net_html
        return net_html(self)


def compile_text(text: str, path: str, limits: Limits = Limits()) -> Net:
    """Compile .arch text (from a notebook cell, say); `path` names it in messages."""
    compiled = compile_checked(text, path, limits)
    return Net(compiled.network, compiled.stats)


def load_string(text: str, name: str = "cell.arch", limits: Limits = Limits()) -> Net:
    """Compile .arch text written in a notebook cell; `name` names it in messages. An
    error's text shows the line of `text` it is on, with a caret under the position."""
    try:
        return compile_text(text, name, limits)
    except NncError as error:
        error.sources = {name: text}
        if error.coord is not None and error.coord.file != name:  # in a file it uses
            try:
                error.sources[error.coord.file] = read_source(error.coord.file)
            except NncError:
                pass
        raise


def load(path: str, limits: Limits = Limits()) -> Net:
    """Read, parse, expand, check and count an .arch file."""
    return compile_text(read_source(path), path, limits)


def from_keras(model, partial: bool = False) -> Net:
    """A Keras model (functional, as keras.applications builds them) imported as a
    network: `net.network.source` is its .arch text, as `nnc import` writes it. A layer
    the language cannot express is an NncError listing every one, unless `partial`
    (then they are written as identity and listed in comments)."""
    from nnc.backends.keras.raise_ import from_keras as read
    from nnc.present.fold import write_arch
    return load_string(write_arch(read(model), model.name, partial), f"{model.name}.arch")


def from_onnx(model, partial: bool = False) -> Net:
    """An ONNX model (an onnx.ModelProto, or the path of an .onnx file) imported as a
    network, as from_keras does; reads it with the onnx package alone."""
    import onnx

    from nnc.backends.onnx.raise_ import from_onnx as read
    from nnc.present.fold import write_arch
    proto = onnx.load(model) if isinstance(model, str) else model
    name = model if isinstance(model, str) else proto.graph.name
    return load_string(write_arch(read(proto), name, partial), f"{proto.graph.name}.arch")
