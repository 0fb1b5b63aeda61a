"""The Python API: what `nnc.load` returns, with the backends' entry points on it.

The stages below the command line never import this module; they pass the plain
Compiled (network and counts) to a backend's functions instead.
"""
from __future__ import annotations

from nnc.analysis.compiled import Compiled, Limits, read_source
from nnc.analysis.compiled import compile_text as compile_checked


class Net(Compiled):
    """A checked network: its graph (`network.graph`) and its counts (`stats`)."""

    def to_keras(self, heads: bool = True, precision: str = "float32", jit: bool = False):
        """The Keras model of this network (imports Keras); heads=False gives the
        inference model, without side heads. See nnc.backends.keras.model.to_keras."""
        from nnc.backends.keras.model import to_keras
        return to_keras(self, heads=heads, precision=precision, jit=jit)

    def build(self, out: str | None = None, format: str | None = None, **options):
        """Lower and save atomically, as `nnc build` does; returns a
        nnc.backends.keras.build.Built (path, format, size, model). Options are those of
        to_keras."""
        from nnc.backends.keras.build import build
        return build(self, out, format, **options)


def compile_text(text: str, path: str, limits: Limits = Limits()) -> Net:
    """Compile .arch text (from a notebook cell, say); `path` names it in messages."""
    compiled = compile_checked(text, path, limits)
    return Net(compiled.network, compiled.stats)


def load(path: str, limits: Limits = Limits()) -> Net:
    """Read, parse, expand, check and count an .arch file."""
    return compile_text(read_source(path), path, limits)
