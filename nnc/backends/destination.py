"""Where a build goes: the output's path and format (from its suffix), the checks that
refuse an output nnc would not replace, what a build returns and the lines it prints.
Shared by the backends; nnc/backends/build.py chooses which one writes.

An output already there is replaced only when it is a model of the format being written:
a .keras file (a zip holding config.json and the weights), an ONNX file, or a SavedModel
directory holding only what a SavedModel holds. Anything else (a directory of the user's
files, a file of another kind, a symbolic link, the current directory) is refused, as is
a second nnc command writing the same output while the first still runs (`output_lock`).
"""
from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass

from nnc.errors import BuildError
from nnc.present.output import entries, holds_cwd

# format -> the suffix its output carries ("" for a SavedModel, which is a directory)
FORMATS = {"keras": ".keras", "savedmodel": "", "onnx": ".onnx"}


@dataclass
class Built:
    path: str
    format: str
    bytes: int      # size on disk, a SavedModel's files added up
    seconds: float  # importing Keras, lowering, verifying and writing
    model: object   # the Keras model that was written


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


def check_destination(path: str, format: str, error: type = BuildError,
                      option: str = "-o") -> None:
    """Refuse, as `error`, an output that cannot be written, or whose writing would
    replace what nnc did not write: only a model of the same format is replaced."""
    received = f"Received: {option} {path}"
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(directory):
        raise error(f"the output directory does not exist; nnc does not create it. "
                    f"Received: {option} {path} (no directory {directory})")
    if not os.path.isdir(directory):
        raise error(f"the output's directory is not a directory but a file. "
                    f"Received: {option} {path} ({directory} is a file)")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise error(f"cannot write in the output directory (no permission). "
                    f"Received: {option} {path} (directory {directory})")
    if holds_cwd(path):
        raise error(f"the output is the current directory or one above it, which nnc "
                    f"never replaces: name a new directory for the SavedModel. {received}")
    if not os.path.lexists(path):
        return
    what = existing(path)
    if format == "savedmodel":
        if what != "a directory":
            raise error(f"a SavedModel is a directory, but the output is {what}, which "
                        f"nnc will not replace. {received}")
        if not is_savedmodel(path):
            raise error(f"the output is an existing directory that is not a SavedModel "
                        f"(it holds {entries(path)}); nnc replaces a directory only when it "
                        f"holds a SavedModel and nothing else (saved_model.pb, variables/, "
                        f"assets/, fingerprint.pb): remove it, or name a new directory. "
                        f"{received}")
        return
    if what == "a directory":
        raise error(f"the output is a directory; a {format} model is one file, and nnc "
                    f"will not replace a directory with it. {received}")
    if what != "a file":
        raise error(f"the output is {what}, which nnc will not replace with a {format} "
                    f"model. {received}")
    if not (is_keras_file(path) if format == "keras" else is_onnx_file(path)):
        raise error(f"the output is a file that is not {describe(format)}; nnc replaces "
                    f"only a model file of the format it writes: remove or rename it, or "
                    f"name another output. {received}")


def describe(format: str) -> str:
    return {"keras": "a .keras model file", "onnx": "an ONNX model file",
            "savedmodel": "a SavedModel directory"}[format]


def existing(path: str) -> str:
    """What is at `path`, in words: 'a directory', 'a file', or what else it is."""
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a file" if stat.S_ISREG(mode) else "a special file (a pipe, socket or device)"


# What a SavedModel directory holds: the graph (binary or text), the variables, assets.
SAVEDMODEL_ENTRIES = {"saved_model.pb", "saved_model.pbtxt", "variables", "assets",
                      "assets.extra", "fingerprint.pb"}


def is_savedmodel(path: str) -> bool:
    names = set(os.listdir(path))
    return (bool(names & {"saved_model.pb", "saved_model.pbtxt"})
            and os.path.isdir(os.path.join(path, "variables"))
            and names <= SAVEDMODEL_ENTRIES)


def is_keras_file(path: str) -> bool:
    """A .keras file is a zip holding config.json and the weights (model.weights.h5)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return "config.json" in names and any(n.startswith("model.weights.") for n in names)


def is_onnx_file(path: str) -> bool:
    """An ONNX file is a protobuf ModelProto whose first field, written first by every
    exporter, is its ir_version: the tag 0x08, then a small varint."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x08 and 1 <= head[1] < 0x80


def summary(compiled, built: Built, heads: bool) -> str:
    """The lines `nnc build` prints."""
    from nnc.wording import human
    totals = compiled.stats.totals if heads else compiled.stats.main
    net = compiled.network
    outputs = net.outputs(heads)
    return "\n".join([
        f"{net.name}: {totals.params:,} params ({totals.trainable:,} trainable), "
        f"{human(totals.macs)} MACs, {len(outputs)} output(s): {', '.join(outputs)}",
        f"wrote {built.path} ({built.format}, {built.bytes / 2**20:.1f} MiB) in "
        f"{built.seconds:.1f} s"])
