"""Make nnc's custom layers known to Keras whenever Keras is imported, so that
`keras.models.load_model` reopens an nnc model after `import nnc` alone.

Keras finds a custom class only in its registry of serializable objects: it never
imports a third-party module named in a saved config. Registering means importing
nnc.backends.keras.layers, which imports Keras, and `import nnc` must not import Keras (it is slow
and the front end does not need it). So `install()` registers at once if Keras is already
imported, and otherwise puts a finder on sys.meta_path that registers right after Keras's
own import finishes, whichever code imports it.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

LAYERS_MODULE = "nnc.backends.keras.layers"


def install() -> None:
    if "keras" in sys.modules:
        importlib.import_module(LAYERS_MODULE)
    elif not any(isinstance(finder, AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, AfterKerasImport())


class AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for `keras` it asks the other finders and wraps the loader
    they return. It stays in place, because a lookup is not always an import (TensorFlow
    calls importlib.util.find_spec("keras") before importing it)."""

    def __init__(self):
        self.searching = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self.searching:
            return None
        self.searching = True  # the lookup below comes back through sys.meta_path
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = RegisteringLoader(spec.loader)
        return spec


class RegisteringLoader(importlib.abc.Loader):
    """Keras's own loader, plus the registration once the module has run."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        importlib.import_module(LAYERS_MODULE)

    def __getattr__(self, name):  # resource readers and the like: Keras's own loader
        return getattr(self.loader, name)
