"""`nnc build` through Keras: lower a compiled network to Keras and write it as a
.keras file or a TensorFlow SavedModel directory (nnc/backends/build.py chooses the
backend and checks the output first).

Every output is written atomically: the exporter writes a hidden temporary file (or
directory) beside the destination, which replaces the destination only once it is
complete, so a failed build never leaves a partial file nor clobbers a good one. The
exporter is checked before the (slow) lowering, so a build that cannot be written fails
at once, as a user error.
"""
from __future__ import annotations

import importlib.util
import time

from nnc.backends.destination import Built, check_destination
from nnc.errors import BuildError
from nnc.present.output import atomic_output, output_lock, size_on_disk


def build_keras(compiled, path: str, format: str, heads: bool = True,
                precision: str = "float32", jit: bool = False) -> Built:
    start = time.perf_counter()
    check_destination(path, format)
    check_exporter(format)
    with output_lock(path, BuildError, f"-o {path}"):
        check_destination(path, format)  # again, now that no other nnc command writes it
        from nnc.backends.keras.model import to_keras
        model = to_keras(compiled, heads=heads, precision=precision, jit=jit)
        with atomic_output(path, directory=format == "savedmodel") as temporary:
            export(model, temporary, format)
    return Built(path, format, size_on_disk(path), time.perf_counter() - start, model)


def check_exporter(format: str) -> None:
    """Refuse at once what the exporter would refuse after the lowering."""
    if format == "savedmodel" and importlib.util.find_spec("tensorflow") is None:
        raise BuildError("savedmodel export needs the tensorflow package. Received: no "
                         "module named tensorflow")


def export(model, path: str, format: str) -> None:
    if format == "keras":
        model.save(path)
    else:
        model.export(path, format="tf_saved_model", verbose=False)
