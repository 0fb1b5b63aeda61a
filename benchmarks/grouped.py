"""AlexNet's grouped convolutions (conv2, conv4 and conv5 have two groups, the two GPUs
of Krizhevsky et al.) three ways, with the same weights on the same random batch:

- nnc: the model nnc builds (architectures/alexnet.arch), whose GroupedConv2D computes
  one convolution per group and concatenates them under TensorFlow;
- keras grouped: the same model with Keras's own Conv2D(groups=2) in their place;
- split: each grouped conv written out as two Conv2D layers on the two halves of its
  input and a Concatenate layer, the way a network without grouped convs writes it.

Rounds time one batch of each in turn (nnc.backends.keras.bench.time_interleaved); the
ratios are medians of the rounds' ratios, nnc's images/s over the other's.
"""
from __future__ import annotations

import statistics

import numpy as np
from common import ARCHITECTURES, table


def compare(batch: int, batches: int, warmup: int) -> dict:
    import keras

    import nnc
    from nnc.backends.keras.bench import Timing, inference_step, random_images, time_interleaved
    compiled = nnc.load(str(ARCHITECTURES / "alexnet.arch"))
    ours = compiled.to_keras(heads=False)
    models = {"nnc": ours, "keras grouped": rebuilt(ours, keras_grouped),
              "split": rebuilt(ours, split_in_groups)}
    images = random_images(compiled.network.shape(compiled.network.input), batch)
    outputs = {name: model.predict_on_batch(images) for name, model in models.items()}
    difference = max(float(np.abs(out - outputs["nnc"]).max()) for out in outputs.values())
    seconds = time_interleaved({name: inference_step(model, images)
                                for name, model in models.items()}, batches, warmup)
    return {"timings": {name: Timing(batch, s) for name, s in seconds.items()},
            "ratios": {name: statistics.median(o / n for n, o in zip(seconds["nnc"], s))
                       for name, s in seconds.items() if name != "nnc"},
            "difference": difference}


def rebuilt(model, replace):
    """The model with each grouped conv replaced by `replace(layer)`, weights kept."""
    import keras
    from nnc.backends.keras.layers import GroupedConv2D
    from nnc.backends.keras.weights import held_as

    def clone(layer):
        if isinstance(layer, GroupedConv2D):
            return replace(layer)
        return layer.__class__.from_config(layer.get_config())
    copy = keras.models.clone_model(model, clone_function=clone)
    for theirs, mine in zip(model.layers, copy.layers):
        if theirs.weights:
            mine.set_weights(held_as(theirs, mine))
    return copy


def keras_grouped(layer):
    import keras
    config = layer.get_config()
    return keras.layers.Conv2D(config["filters"], config["kernel_size"], config["strides"],
                               config["padding"], groups=config["groups"],
                               use_bias=config["use_bias"],
                               activation=config["activation"], name=config["name"])


def split_in_groups(layer):
    """Two Conv2D layers on the halves of the input and a Concatenate layer; its
    weights are those of nnc's layer, a kernel and a bias per group in turn."""
    import keras
    from keras import ops
    config = layer.get_config()

    class SplitConv(keras.layers.Layer):
        def __init__(self):
            super().__init__(name=config["name"])
            self.convs = [keras.layers.Conv2D(config["filters"] // config["groups"],
                                              config["kernel_size"], config["strides"],
                                              config["padding"], use_bias=config["use_bias"],
                                              activation=config["activation"])
                          for _ in range(config["groups"])]
            self.concat = keras.layers.Concatenate()

        def call(self, x):
            return self.concat([conv(part) for conv, part in
                                zip(self.convs, ops.split(x, config["groups"], axis=-1))])

    return SplitConv()


def compare_table(results: dict) -> str:
    timings, ratios = results["timings"], results["ratios"]
    return table(["AlexNet with", "images/s", "ms/batch", "nnc / this"],
                 [[name, f"{t.images_per_second:.1f}", f"{t.median * 1e3:.0f}",
                   f"{ratios[name]:.3f}" if name in ratios else ""]
                  for name, t in timings.items()])
