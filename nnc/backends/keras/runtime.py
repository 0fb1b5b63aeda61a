"""Importing Keras the way nnc's commands need it: the backend checked first, with a
clear message, and TensorFlow's start-up lines kept off the terminal.

TensorFlow prints a few lines from C++ when it is imported (oneDNN, absl), before any
log level applies; so its stderr is muted for that import alone, unless `verbose` is
set (the command line's --debug sets it). Errors still surface: an import that fails
raises after stderr is restored.
"""
from __future__ import annotations

import importlib.util
import os
import sys

from nnc.errors import SetupError

BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy",
            "openvino": "openvino"}  # KERAS_BACKEND -> the package it needs
verbose = False


def check_backend() -> str:
    """The Keras backend this process will use, if it is known and installed."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in BACKENDS:
        raise SetupError(f"KERAS_BACKEND must be one of {', '.join(BACKENDS)}. "
                         f"Received: KERAS_BACKEND={backend[:60]}")
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        raise SetupError(f"KERAS_BACKEND={backend} needs the {BACKENDS[backend]} package, "
                         f"which is not installed here (pip install {BACKENDS[backend]}). "
                         f"Received: no module named {BACKENDS[backend]}")
    return backend


def import_keras():
    """The keras module, its backend checked and TensorFlow's start-up quiet."""
    backend = check_backend()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's INFO and WARNING logs
    if backend == "tensorflow" and "tensorflow" not in sys.modules and not verbose:
        with stderr_muted():
            import tensorflow  # noqa: F401
    import keras
    return keras


class stderr_muted:
    """Point file descriptor 2 at /dev/null for a while (C++ writes there directly)."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
