"""`nnc train`: Keras's fit on a compiled network, surviving a kill.

Training is Keras's fit on the compiled model, side heads included (each with its loss
weight), with a progress bar and per-epoch metrics on the held-out split. Two things
make a run survive a kill: Keras's BackupAndRestore, which saves weights, optimizer
state and the epoch count at the end of each epoch and restores them when the same
command runs again (so a kill loses at most the current epoch), and a copy of the model
after the latest epoch (`last.keras`). Both live in the checkpoint directory, by default
`OUT.ckpt` beside the output, which is removed once training finishes.

The checkpoint directory says which run it is of (checkpoints.py), and a run resumes
only from its own. The output and the checkpoint directory are locked while a run trains
(`output_lock`), so that a second run writing to either is refused instead of resuming
from the first one's live backup. The model file carries the .arch source and how it was
trained (model_file.py).

`--strategy` runs fit under a tf.distribute strategy (TensorFlow backend only): mirrored
over the local GPUs, or multiworker across machines listed in TF_CONFIG, where every
worker runs the same command and `--batch` is the global batch.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import keras

from nnc.backends.destination import check_destination
from nnc.backends.keras.model import to_keras
from nnc.errors import TrainError
from nnc.experiments.checkpoints import (
    BACKUP,
    IDENTITY,
    LAST,
    check_checkpoint_path,
    check_worker_base,
    discard,
    identity_of,
    inspect_checkpoints,
)
from nnc.experiments.labels import per_pixel
from nnc.experiments.model_file import loss_for, save
from nnc.present.output import output_lock, write_atomically


@dataclass
class Trained:
    path: str
    epochs: int          # epochs the model has been trained for, in all runs
    resumed_from: int    # epochs done before this run (restored from the backup)
    metrics: dict        # the last epoch's metrics
    seconds: float


def train(compiled, data, recipe, out=None, checkpoints=None, strategy="none",
          log=print, restart=False) -> Trained:
    """Train, resuming from the checkpoints of an interrupted run of the same network,
    data and recipe; `restart` discards such checkpoints (those nnc made) instead."""
    start = time.perf_counter()
    net = compiled.network
    path = output_file(net.name, out)
    check_destination(path, "keras", TrainError)
    data.check_fits(net.shape(net.output)[-1])
    if per_pixel(net.shape(net.output)):
        refuse_augmenting_masks(recipe)
    distribution = make_strategy(strategy)
    base = checkpoints or path + ".ckpt"
    option = f"--checkpoints {checkpoints}" if checkpoints else f"-o {path} (checkpoints: {base})"
    check_checkpoint_path(base, path, option)
    # Workers may share a disk: each has its own directory, and locks of its own.
    worker = f"worker-{worker_index()}" if strategy == "multiworker" else ""
    directory = os.path.join(base, worker) if worker else base
    lock_name = f".{worker}" if worker else ""
    identity = identity_of(compiled, data, recipe)
    with output_lock(path, TrainError, f"-o {path}", lock_name), \
            output_lock(base, TrainError, option, lock_name):
        check_destination(path, "keras", TrainError)  # again, under the locks
        base_made = not os.path.lexists(base)
        if worker:
            check_worker_base(base, option)
        done, made = inspect_checkpoints(directory, identity, recipe, restart, option)
        if restart and os.path.lexists(os.path.join(directory, IDENTITY)):
            discard(directory, made)
            log(f"discarded the checkpoints in {directory}: training starts afresh")
        made_now = not os.path.isdir(directory)
        os.makedirs(directory, exist_ok=True)
        made = made_now or bool(made)  # by nnc, now or in an interrupted run
        write_atomically(os.path.join(directory, IDENTITY),
                         json.dumps({**identity, "made_directory": made}, indent=1).encode())
        backup = os.path.join(directory, BACKUP)
        if done:
            log(f"resuming after epoch {done} from the backup in {backup}")
        keras.utils.set_random_seed(recipe.seed)
        with distribution.scope() if distribution else contextlib.nullcontext():
            model = to_keras(compiled, heads=True)
            fitted = compile_for_training(model, net, recipe, len(data.y_train))
        info = record(compiled, data, recipe)
        callbacks = ([WorkerConsensus(distribution)] if strategy == "multiworker" else []) + [
            keras.callbacks.BackupAndRestore(backup, double_checkpoint=True),
            LastEpoch(model, os.path.join(directory, LAST), net.source, info)]
        labels = len(model.outputs)  # side heads learn the same labels
        history = fitted.fit(data.x_train,
                             [data.y_train] * labels if labels > 1 else data.y_train,
                             batch_size=recipe.batch_size, epochs=recipe.epochs, shuffle=True,
                             validation_data=(data.x_test, [data.y_test] * labels
                                              if labels > 1 else data.y_test),
                             callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
        metrics = {k: float(v[-1]) for k, v in history.history.items()}
        save(model, path, net.source, {**info, "epochs": recipe.epochs, "metrics": metrics})
        if checkpoints is None:
            discard(directory, made)
            if worker and base_made:
                with contextlib.suppress(OSError):
                    os.rmdir(base)  # once the other workers' directories have gone too
    return Trained(path, recipe.epochs, done, metrics, time.perf_counter() - start)


def output_file(network: str, out: str | None) -> str:
    """Where `nnc train` writes: one .keras file, `<network>.keras` by default."""
    if out is None:
        return network + ".keras"
    out = os.path.normpath(out)
    if os.path.isdir(out):
        raise TrainError(f"the output is a directory, but nnc train writes one .keras "
                         f"file: name a file ending in .keras, such as "
                         f"{os.path.join(out, network + '.keras')}. Received: -o {out}")
    if os.path.splitext(out)[1].lower() != ".keras":
        raise TrainError(f"nnc train writes one .keras file (the model with its .arch "
                         f"source), so the output's name must end in .keras. "
                         f"Received: -o {out}")
    return out


def compile_for_training(model, net, recipe, images: int):
    """What to fit, compiled: the model, or the model behind the recipe's augmentation
    layers, which then stay out of the saved file."""
    from nnc.experiments.recipe import augmentation, loss_weights, optimizer
    augment = augmentation(recipe)
    fitted = model
    if augment is not None:
        image = keras.Input(model.input.shape[1:])
        fitted = keras.Model(image, model(augment(image)), name=f"{model.name}_augmented")
    outputs = net.outputs()
    fitted.compile(optimizer=optimizer(recipe, math.ceil(images / recipe.batch_size)),
                   loss=[loss_for(net.layers[node]) for node in outputs],
                   loss_weights=loss_weights(recipe, net.heads),
                   metrics=[metrics_of(net)] + [[] for _ in net.heads])
    return fitted


def metrics_of(net) -> list:
    """Accuracy, and top-5 accuracy past 5 classes; for per-pixel classes, the share of
    pixels right (top-5 of a pixel's classes is no measure anyone reports)."""
    if per_pixel(net.shape(net.output)):
        return [keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy")]
    if net.shape(net.output)[-1] <= 5:
        return ["accuracy"]
    return ["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")]


def refuse_augmenting_masks(recipe) -> None:
    """Keras's random flips and shifts move the images but not their masks."""
    moves = ["flip: true"] * recipe.flip + [f"translate: {recipe.translate:g}"] * bool(
        recipe.translate)
    if moves:
        raise TrainError(f"{recipe.source}: augmentation moves the images but not their "
                         f"masks, so nnc does not augment per-pixel data; leave it out of "
                         f"the recipe. Received: {', '.join(moves)}")


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
