"""The .keras files `nnc train` writes and `nnc eval` and `nnc lesion` read, and the
evaluation of such a model on held-out images.

A model file is a normal .keras file with two more entries: the .arch source
(`nnc/source.arch`) and a JSON record of how it was trained (`nnc/info.json`), so that
`nnc eval` and `nnc lesion` need nothing but the file. Keras ignores the extra entries.
Reading one checks each piece and names the damaged one.
"""
from __future__ import annotations

import json
import os
import warnings
import zipfile
from dataclasses import dataclass

import keras
import numpy as np

from nnc.errors import NncError, TrainError
from nnc.present.output import atomic_output

SOURCE_ENTRY, INFO_ENTRY = "nnc/source.arch", "nnc/info.json"
KERAS_ENTRIES = ("config.json", "model.weights.h5")  # what Keras needs of a .keras file


def save(model, path: str, source: str, info: dict) -> None:
    """The .keras file, with the .arch source and the training record added, atomically."""
    with atomic_output(path) as temporary:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(SOURCE_ENTRY, source)
            archive.writestr(INFO_ENTRY, json.dumps(info, indent=1))


@dataclass
class SavedModel:
    path: str
    model: object     # the Keras model, side heads included
    compiled: object  # the network, compiled again from the saved source
    info: dict


def open_model(path: str) -> SavedModel:
    """A model file nnc train wrote, each of its pieces checked: a damaged or missing
    piece is named in a TrainError."""
    from nnc.analysis.compiled import compile_text
    source, info = read_model_file(path)
    try:
        compiled = compile_text(source, info["file"])
    except NncError as e:
        where = f"{e.coord}: " if e.coord else ""
        raise TrainError(f"the model file's .arch source ({SOURCE_ENTRY}) does not compile: "
                         f"{where}{e.message} Received: {path}") from None
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            model = keras.models.load_model(path, compile=False)
            # Where the weights lack a layer's, Keras only warns, and leaves it initialized.
            problem = next((str(w.message) for w in said
                            if str(w.message).startswith("Skipping")), None)
        except ValueError as e:  # Keras: weights that do not fit the layers
            problem = str(e)
    if problem is not None:
        first_line = (problem.strip().splitlines() or ["?"])[0]
        raise TrainError(f"the model file is damaged: its Keras layers (config.json) and "
                         f"weights (model.weights.h5) do not load together. "
                         f"Received: {path} ({first_line})") from None
    params = compiled.stats.totals.params
    if model.count_params() != params:
        raise TrainError(f"the model file is damaged: its .arch source ({SOURCE_ENTRY}) "
                         f"describes a network of {params:,} parameters, but its Keras model "
                         f"has {model.count_params():,}. Received: {path}")
    return SavedModel(path, model, compiled, info)


def read_model_file(path: str) -> tuple[str, dict]:
    """The .arch source and the training record of a model file, after checking that
    Keras's pieces are there and whole."""
    def refuse(what: str) -> TrainError:
        return TrainError(f"{what}; nnc eval and nnc lesion read .keras files written by "
                          f"nnc train. Received: {path}")
    if os.path.isdir(path):
        raise refuse("the model is a directory, not a .keras file")
    if not os.path.exists(path):
        raise refuse("no such model file")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise refuse("the model file is empty" if os.path.getsize(path) == 0 else
                     "the model file is not a .keras file: it is not a zip archive (or "
                     "it is a cut-off one)") from None
    except OSError as e:
        raise refuse(f"cannot read the model file: {e.strerror}") from None
    with archive:
        names = set(archive.namelist())
        missing = [n for n in KERAS_ENTRIES if n not in names]
        if missing:
            raise refuse(f"the model file is a zip archive but not a Keras model: it has no "
                         f"{' and no '.join(missing)}")
        if SOURCE_ENTRY not in names:
            raise refuse(f"the model file has no .arch source in it ({SOURCE_ENTRY})"
                         + (f" nor a training record ({INFO_ENTRY})"
                            if INFO_ENTRY not in names else ""))
        if INFO_ENTRY not in names:
            raise refuse(f"the model file has no record of how it was trained ({INFO_ENTRY})")
        damaged = damaged_entry(archive)
        if damaged:
            raise refuse(f"the model file is damaged: {damaged}")
        try:
            config = json.loads(archive.read("config.json"))
            if not isinstance(config, dict):
                raise TypeError("not a JSON object")
        except (ValueError, TypeError) as e:
            raise refuse(f"the model file is damaged: config.json is not the layers' JSON "
                         f"({e})") from None
        if not weights_open(archive):
            raise refuse("the model file is damaged: its weights (model.weights.h5) are not "
                         "a whole HDF5 file")
        try:
            source = archive.read(SOURCE_ENTRY).decode("utf-8")
        except UnicodeDecodeError:
            raise refuse(f"the model file is damaged: its .arch source ({SOURCE_ENTRY}) is "
                         f"not UTF-8 text") from None
        try:
            info = json.loads(archive.read(INFO_ENTRY))
            check_info(info)
        except (ValueError, KeyError, TypeError) as e:
            why = f"no {e}" if isinstance(e, KeyError) else str(e)
            raise refuse(f"the model file is damaged: its training record ({INFO_ENTRY}) is "
                         f"not the JSON nnc train writes ({why})") from None
    return source, info


def damaged_entry(archive: zipfile.ZipFile) -> str | None:
    """The first entry that fails its checksum or cannot be decompressed, in words."""
    import zlib
    try:
        bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        return f"an entry of it cannot be read ({e})"
    return f"its entry {bad} fails its checksum" if bad else None


def weights_open(archive: zipfile.ZipFile) -> bool:
    import h5py
    try:
        with archive.open("model.weights.h5") as stream, h5py.File(stream, "r"):
            return True
    except OSError:  # h5py's errors for a file that is not HDF5, or is cut off
        return False


def check_info(info) -> None:
    if not isinstance(info, dict):
        raise TypeError("not a JSON object")
    if not isinstance(info["file"], str):
        raise TypeError("'file' is not a file name")
    data = info["data"]
    if not (isinstance(data, dict) and isinstance(data["spec"], str)
            and isinstance(data["seed"], int)):
        raise TypeError("'data' lacks its spec and seed")


def loss_for(layer):
    """The loss an output is trained with, from what its layer's values mean:
    cross-entropy on probabilities after a softmax, LeCun's eq. (9) on RBF distances,
    and cross-entropy on logits otherwise."""
    meaning = layer.kind.outputs(layer.attrs)
    if meaning == "distances":
        from nnc.backends.keras.layers import RBFMapLoss
        return RBFMapLoss()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=meaning == "logits")


def predict(model, x, batch: int | None = None):
    """The main output on `x`, called eagerly in chunks: no graph tracing for a model
    that runs once, as the lesion study's hundreds of variants do. A network that
    outputs a map (U-Net) holds maps of its size at every layer, so its chunks hold
    fewer images, about a million output values."""
    if batch is None:
        outputs_per_image = int(np.prod(model.outputs[0].shape[1:]))
        batch = max(1, min(256, 2 ** 20 // outputs_per_image))
    outputs = []
    for i in range(0, len(x), batch):
        y = model(x[i:i + batch], training=False)
        outputs.append(keras.ops.convert_to_numpy(y[0] if isinstance(y, (list, tuple)) else y))
    return np.concatenate(outputs)


def error_of(outputs, y) -> float:
    return float((outputs.argmax(axis=-1) != y).mean())


def evaluate(model, compiled, x, y) -> dict:
    """Loss (the main output's training loss), accuracy, top-1 error and, with more than
    five classes, top-5 error; for a map of per-pixel classes, the loss per pixel and
    `pixel_scores`."""
    net = compiled.network
    outputs = predict(model, x)
    loss = loss_for(net.layers[net.output])
    result = {"images": int(len(y)), "loss": float(loss(y, outputs))}
    if outputs.ndim == 4:
        return {**result, **pixel_scores(outputs.argmax(axis=-1), y, outputs.shape[-1])}
    result.update(accuracy=1 - error_of(outputs, y), error=error_of(outputs, y))
    if outputs.shape[1] > 5:
        best5 = np.argsort(-outputs, axis=1)[:, :5]
        result["top5_error"] = float((best5 != y[:, None]).all(axis=1).mean())
    return result


def pixel_scores(predicted, y, classes: int) -> dict:
    """The share of pixels whose class is right, and each class's intersection over
    union: the pixels that both the prediction and the mask give the class, over those
    that either does. The mean IoU is over the classes that either gives some pixel, as
    a class that neither gives has no IoU (0/0), as in Keras's MeanIoU."""
    confusion = np.bincount(classes * y.ravel() + predicted.ravel(),
                            minlength=classes * classes).reshape(classes, classes)
    hits = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    iou = [float(h / u) if u else None for h, u in zip(hits, union)]
    accuracy = float(hits.sum() / y.size)
    return {"pixels": int(y.size), "pixel_accuracy": accuracy, "pixel_error": 1 - accuracy,
            "mean_iou": float(np.mean([v for v in iou if v is not None])), "class_iou": iou}
