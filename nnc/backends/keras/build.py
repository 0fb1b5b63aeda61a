"""`nnc build`: lower a compiled network to Keras and write it as a .keras file, a
TensorFlow SavedModel directory or an ONNX file.

Every output is written atomically: the exporter writes a hidden temporary file (or
directory) beside the destination, which replaces the destination only once it is
complete, so a failed build never leaves a partial file nor clobbers a good one. Paths,
formats and exporters are checked before the (slow) lowering, so a build that cannot be
written fails at once, as a user error.
"""
from __future__ import annotations

import importlib.util
import os
import time
import warnings
from dataclasses import dataclass

from nnc.errors import BuildError
from nnc.present.output import atomic_output, size_on_disk

# format -> the suffix its output carries ("" for a SavedModel, which is a directory)
FORMATS = {"keras": ".keras", "savedmodel": "", "onnx": ".onnx"}


@dataclass
class Built:
    path: str
    format: str
    bytes: int      # size on disk, a SavedModel's files added up
    seconds: float  # importing Keras, lowering, verifying and writing
    model: object   # the Keras model that was written


def build(compiled, out: str | None = None, format: str | None = None, heads: bool = True,
          precision: str = "float32", jit: bool = False) -> Built:
    start = time.perf_counter()
    path, format = output_path(compiled.network.name, out, format)
    check_destination(path, format)
    check_exporter(format, precision)
    from nnc.backends.keras.model import to_keras
    model = to_keras(compiled, heads=heads, precision=precision, jit=jit)
    with atomic_output(path, directory=format == "savedmodel") as temporary:
        export(model, temporary, format)
    return Built(path, format, size_on_disk(path), time.perf_counter() - start, model)


def output_path(network: str, out: str | None, format: str | None) -> tuple[str, str]:
    """The destination and its format: given, inferred from the suffix of OUT (none for
    a SavedModel directory), or `<network>.keras` in the current directory."""
    if format is not None and format not in FORMATS:
        raise BuildError(f"unknown output format. Expected one of {', '.join(FORMATS)}. "
                         f"Received: {format}")
    if out is None:
        format = format or "keras"
        return network + FORMATS[format], format
    out = os.path.normpath(out)
    suffix = os.path.splitext(out)[1].lower()
    inferred = next((f for f, s in FORMATS.items() if s == suffix), None)
    if format is None and inferred is None:
        raise BuildError(f"cannot tell the output format from the suffix '{suffix}': use "
                         f".keras, .onnx, no suffix for a SavedModel directory, or "
                         f"--format. Received: -o {out}")
    if (format is not None and inferred not in (None, format)) or \
            (format == "keras" and suffix != ".keras"):
        raise BuildError(f"the output's suffix does not fit --format {format}, which writes "
                         f"{FORMATS[format] or 'a directory without a suffix'}. "
                         f"Received: -o {out}")
    return out, format or inferred


def check_destination(path: str, format: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise BuildError(f"the output directory does not exist. Received: {directory}")
    if not os.access(directory, os.W_OK):
        raise BuildError(f"cannot write in the output directory. Received: {directory}")
    if format == "savedmodel" and os.path.exists(path) and not os.path.isdir(path):
        raise BuildError(f"a SavedModel is a directory, but the output is a file. "
                         f"Received: {path}")
    if format != "savedmodel" and os.path.isdir(path):
        raise BuildError(f"the output is a directory; a {format} model is one file. "
                         f"Received: {path}")


def check_exporter(format: str, precision: str) -> None:
    """Refuse at once what the exporter would refuse after the lowering."""
    from nnc.backends.keras.runtime import check_backend  # without importing Keras
    needs = {"savedmodel": ["tensorflow"],
             "onnx": ["tf2onnx"] if check_backend() == "tensorflow" else []}
    missing = [m for m in needs.get(format, []) if importlib.util.find_spec(m) is None]
    if missing:
        raise BuildError(f"{format} export needs the {missing[0]} package (pip install "
                         f"'nnc[onnx]' for ONNX). Received: no module named {missing[0]}")
    if format == "onnx" and precision != "float32":
        raise BuildError(f"Keras exports ONNX from float32 models only. Received: "
                         f"--precision {precision}")


def export(model, path: str, format: str) -> None:
    import keras
    if format == "keras":
        model.save(path)
    elif format == "savedmodel":
        model.export(path, format="tf_saved_model", verbose=False)
    else:
        # An explicit signature with a free batch size, because Keras's exporter refuses
        # a model that has never been called.
        signature = [keras.InputSpec(shape=(None, *model.input.shape[1:]),
                                     dtype="float32", name=model.input.name)]
        with warnings.catch_warnings():  # Keras's own tf2onnx patch warns about numpy
            warnings.simplefilter("ignore", FutureWarning)
            model.export(path, format="onnx", verbose=False, input_signature=signature)
        check_onnx(model, path)


def check_onnx(model, path: str) -> None:
    """tf2onnx writes a file even where it cannot convert an op, and onnxruntime then
    refuses the file: open it here, so that such a build fails and leaves nothing."""
    if importlib.util.find_spec("onnxruntime") is None:
        return
    import onnxruntime
    try:
        onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        grouped = [layer.name for layer in model.layers if getattr(layer, "groups", 1) > 1]
        why = (f": Keras runs grouped convolutions ({', '.join(grouped)}) through XLA under "
               f"TensorFlow, and tf2onnx cannot convert them" if grouped else "")
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BuildError(f"the exported ONNX file does not load in onnxruntime{why}. "
                         f"Received: {first_line}") from None


def summary(compiled, built: Built, heads: bool) -> str:
    """The lines `nnc build` prints."""
    from nnc.wording import human
    totals = compiled.stats.totals if heads else compiled.stats.main
    net = compiled.network
    outputs = [net.output] + ([row.output for row in net.heads] if heads else [])
    return "\n".join([
        f"{net.name}: {totals.params:,} params ({totals.trainable:,} trainable), "
        f"{human(totals.macs)} MACs, {len(outputs)} output(s): {', '.join(outputs)}",
        f"wrote {built.path} ({built.format}, {built.bytes / 2**20:.1f} MiB) in "
        f"{built.seconds:.1f} s"])
