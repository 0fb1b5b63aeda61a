"""`nnc train` and `nnc eval`, and the .keras files they share.

Training is Keras's fit on the compiled model, side heads included (each with its loss
weight), with a progress bar and per-epoch metrics on the held-out split. Two things
make a run survive a kill: Keras's BackupAndRestore, which saves weights, optimizer
state and the epoch count at the end of each epoch and restores them when the same
command runs again (so a kill loses at most the current epoch), and a copy of the model
after the latest epoch (`last.keras`). Both live in the checkpoint directory, by default
`OUT.ckpt` beside the output, which is removed once training finishes.

The model file is a normal .keras file with two more entries: the .arch source
(`nnc/source.arch`) and a JSON record of how it was trained (`nnc/info.json`), so that
`nnc eval` and `nnc lesion` need nothing but the file. Keras ignores the extra entries.

`--strategy` runs fit under a tf.distribute strategy (TensorFlow backend only): mirrored
over the local GPUs, or multiworker across machines listed in TF_CONFIG, where every
worker runs the same command and `--batch` is the global batch.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass

import keras
import numpy as np

from nnc.backends.keras.build import check_destination, output_path
from nnc.backends.keras.model import to_keras
from nnc.errors import TrainError
from nnc.present.output import atomic_output

SOURCE_ENTRY, INFO_ENTRY = "nnc/source.arch", "nnc/info.json"


@dataclass
class Trained:
    path: str
    epochs: int          # epochs the model has been trained for, in all runs
    resumed_from: int    # epochs done before this run (restored from the backup)
    metrics: dict        # the last epoch's metrics
    seconds: float


def train(compiled, data, recipe, out=None, checkpoints=None, strategy="none",
          log=print) -> Trained:
    start = time.perf_counter()
    net = compiled.network
    path, _ = output_path(net.name, out, "keras")
    check_destination(path, "keras")
    data.check_fits(net.shape(net.output)[-1])
    distribution = make_strategy(strategy)
    directory = checkpoints or path + ".ckpt"
    if strategy == "multiworker":  # workers may share a disk: one directory each
        directory = os.path.join(directory, f"worker-{worker_index()}")
    backup = os.path.join(directory, "backup")
    done = epochs_in_backup(backup)
    if done:
        log(f"resuming after epoch {done} from the backup in {backup}")
    keras.utils.set_random_seed(recipe.seed)
    with distribution.scope() if distribution else contextlib.nullcontext():
        model = to_keras(compiled, heads=True)
        fitted = compile_for_training(model, net, recipe, len(data.y_train))
    info = record(compiled, data, recipe)
    callbacks = ([WorkerConsensus(distribution)] if strategy == "multiworker" else []) + [
        keras.callbacks.BackupAndRestore(backup, double_checkpoint=True),
        LastEpoch(model, os.path.join(directory, "last.keras"), net.source, info)]
    labels = len(model.outputs)  # side heads learn the same labels
    history = fitted.fit(data.x_train, [data.y_train] * labels if labels > 1 else data.y_train,
                         batch_size=recipe.batch_size, epochs=recipe.epochs, shuffle=True,
                         validation_data=(data.x_test, [data.y_test] * labels
                                          if labels > 1 else data.y_test),
                         callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
    metrics = {k: float(v[-1]) for k, v in history.history.items()}
    save(model, path, net.source, {**info, "epochs": recipe.epochs, "metrics": metrics})
    if checkpoints is None:
        shutil.rmtree(path + ".ckpt", ignore_errors=True)
    return Trained(path, recipe.epochs, done, metrics, time.perf_counter() - start)


def compile_for_training(model, net, recipe, images: int):
    """What to fit, compiled: the model, or the model behind the recipe's augmentation
    layers, which then stay out of the saved file."""
    from nnc.experiments.recipe import augmentation, loss_weights, optimizer
    augment = augmentation(recipe)
    fitted = model
    if augment is not None:
        image = keras.Input(model.input.shape[1:])
        fitted = keras.Model(image, model(augment(image)), name=f"{model.name}_augmented")
    outputs = [net.output] + [h.output for h in net.heads]
    fitted.compile(optimizer=optimizer(recipe, math.ceil(images / recipe.batch_size)),
                   loss=[loss_for(net.layers[node]) for node in outputs],
                   loss_weights=loss_weights(recipe, net.heads),
                   metrics=[["accuracy", *top5(net)]] + [[] for _ in net.heads])
    return fitted


def top5(net) -> list:
    if net.shape(net.output)[-1] <= 5:
        return []
    return [keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")]


def loss_for(layer):
    """The loss an output is trained with, from what its layer's values mean:
    cross-entropy on probabilities after a softmax, LeCun's eq. (9) on RBF distances,
    and cross-entropy on logits otherwise."""
    meaning = layer.kind.outputs(layer.attrs)
    if meaning == "distances":
        from nnc.backends.keras.layers import RBFMapLoss
        return RBFMapLoss()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=meaning == "logits")


def record(compiled, data, recipe) -> dict:
    """What nnc/info.json says: the network, where its source came from, the data and
    its split (so eval and lesion can find the same held-out images), the recipe."""
    net = compiled.network
    return {"network": net.name, "file": os.path.basename(net.file),
            "keras_version": keras.__version__, "backend": keras.backend.backend(),
            "data": {"spec": data.name, "seed": recipe.seed, "classes": data.class_names,
                     "train_images": len(data.y_train), "test_images": len(data.y_test)},
            "recipe": recipe.json()}


# --- strategies ------------------------------------------------------------------------

def make_strategy(name: str):
    if name == "none":
        return None
    if keras.backend.backend() != "tensorflow":
        raise TrainError(f"--strategy uses tf.distribute, which needs the TensorFlow "
                         f"backend (README: 'Training and lesion studies' says what to use "
                         f"under JAX). Received: KERAS_BACKEND={keras.backend.backend()}")
    import tensorflow as tf
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    worker_index()  # check TF_CONFIG before TensorFlow tries to reach the other workers
    return multiworker_strategy(tf)


def worker_index() -> int:
    try:
        config = json.loads(os.environ["TF_CONFIG"])
        workers, task = config["cluster"]["worker"], config["task"]
        if task["type"] not in ("worker", "chief") or not workers:
            raise ValueError
        return int(task["index"])
    except (KeyError, ValueError, TypeError):
        raise TrainError(
            "--strategy multiworker reads the cluster from TF_CONFIG, a JSON object such "
            "as {\"cluster\": {\"worker\": [\"host1:port\", \"host2:port\"]}, \"task\": "
            "{\"type\": \"worker\", \"index\": 0}}. Received: TF_CONFIG="
            f"{os.environ.get('TF_CONFIG', '(unset)')}") from None


def multiworker_strategy(tf):
    """MultiWorkerMirroredStrategy, with `reduce` extended to what Keras 3's fit asks of
    it: Keras reduces whole (x, y) batches and 0-d metrics with axis=0, which
    MultiWorkerMirroredStrategy refuses (a nest, and an axis a scalar lacks), while
    MirroredStrategy accepts both. The reduction of each value is unchanged."""

    class Strategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            parent = super().reduce

            def one(v):
                rank = self.experimental_local_results(v)[0].shape.rank
                return parent(reduce_op, v, axis if rank else None)
            return tf.nest.map_structure(one, value)

    return Strategy()


class WorkerConsensus(keras.callbacks.Callback):
    """Averages the non-trainable weights (BatchNorm's moving mean and variance) over the
    workers at each epoch's end. Gradients are all-reduced, so the trainable weights
    agree already, but each worker updates its moving statistics from its own share of
    the batch; averaged, they are the statistics of the whole batch (the variance up to
    the spread of the workers' means), and every worker saves the same model."""

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy

    def on_train_begin(self, logs=None):
        import tensorflow as tf
        self.variables = [v for v in self.model.non_trainable_variables
                          if "float" in str(v.dtype)]

        @tf.function  # one graph for all the all-reduces, not one eager call each
        def average():
            local = self.strategy.run(lambda: [tf.identity(v.value) for v in self.variables])
            return self.strategy.reduce("MEAN", local, axis=None)
        self.average = average

    def on_epoch_end(self, epoch, logs=None):
        for variable, mean in zip(self.variables, self.average()):
            variable.assign(mean)


# --- checkpoints and model files -------------------------------------------------------

def epochs_in_backup(backup: str) -> int:
    try:
        with open(os.path.join(backup, "training_metadata.json"), encoding="utf-8") as f:
            return int(json.load(f)["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


class LastEpoch(keras.callbacks.Callback):
    """Saves the nnc model (never the augmentation wrapper) after each epoch."""

    def __init__(self, model, path: str, source: str, info: dict):
        super().__init__()
        self.nnc_model, self.path, self.source, self.info = model, path, source, info

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        save(self.nnc_model, self.path, self.source,
             {**self.info, "epochs": epoch + 1, "metrics": metrics})


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
    from nnc.analysis.compiled import compile_text
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not {SOURCE_ENTRY, INFO_ENTRY} <= names:
                raise TrainError(f"the model file has no .arch source in it: nnc eval and "
                                 f"nnc lesion read models written by nnc train. "
                                 f"Received: {path}")
            source = archive.read(SOURCE_ENTRY).decode("utf-8")
            info = json.loads(archive.read(INFO_ENTRY))
    except (OSError, zipfile.BadZipFile) as e:
        raise TrainError(f"cannot read the model file: {e}. Received: {path}") from None
    compiled = compile_text(source, info["file"])
    return SavedModel(path, keras.models.load_model(path, compile=False), compiled, info)


# --- evaluation --------------------------------------------------------------------------

def predict(model, x, batch: int = 256):
    """The main output on `x`, called eagerly in chunks: no graph tracing for a model
    that runs once, as the lesion study's hundreds of variants do."""
    outputs = []
    for i in range(0, len(x), batch):
        y = model(x[i:i + batch], training=False)
        outputs.append(keras.ops.convert_to_numpy(y[0] if isinstance(y, (list, tuple)) else y))
    return np.concatenate(outputs)


def error_of(outputs, y) -> float:
    return float((outputs.argmax(axis=1) != y).mean())


def evaluate(model, compiled, x, y) -> dict:
    """Loss (the main output's training loss), accuracy, top-1 error and, with more than
    five classes, top-5 error."""
    net = compiled.network
    outputs = predict(model, x)
    loss = loss_for(net.layers[net.output])
    result = {"images": int(len(y)), "loss": float(loss(y, outputs)),
              "accuracy": 1 - error_of(outputs, y), "error": error_of(outputs, y)}
    if outputs.shape[1] > 5:
        best5 = np.argsort(-outputs, axis=1)[:, :5]
        result["top5_error"] = float((best5 != y[:, None]).all(axis=1).mean())
    return result
