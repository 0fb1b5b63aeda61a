"""U-Net's Figure 1 (architectures/unet.arch) against the paper's figures, and its
Keras model against the checked graph."""
import pytest
from conftest import ARCHITECTURES

import nnc
from nnc.analysis.receptive import receptive_fields


def test_unet_is_figure_1(load, reference):
    paper, compiled = reference["unet"], load("unet")
    net = compiled.network
    assert net.shape(net.input) == tuple(paper["input"])
    assert net.shape(net.output) == tuple(paper["output"])
    assert compiled.stats.weight_layers == paper["conv_layers"]
    assert compiled.stats.totals.params == paper["params"]
    # Every level on the way up joins the cropped maps of its level on the way down.
    crops = {layer.inputs[0]: layer.shape for name, layer in net.layers.items()
             if ".crop" in name}
    assert crops == {"down4.conv2": (56, 56, 512), "down3.conv2": (104, 104, 256),
                     "down2.conv2": (200, 200, 128), "down1.conv2": (392, 392, 64)}


@pytest.mark.slow
def test_unet_builds_with_the_counts_of_nnc_stats():
    compiled = nnc.load(str(ARCHITECTURES / "unet.arch"))
    model = compiled.to_keras()  # verifies every layer's shape and parameters
    assert model.count_params() == compiled.stats.totals.params
    assert tuple(model.output.shape[1:]) == (388, 388, 2)


@pytest.mark.slow
def test_unets_receptive_field_is_what_the_input_gradient_reaches():
    """The largest window of the input that one output pixel depends on, found by the
    gradient of output pixels along a row of positions (a U-Net of Figure 1's geometry,
    two channels at the first level, weights made positive so no ReLU cuts a path),
    is the field nnc computes: outputs at different positions of the upsampled grids
    see windows of different sizes, and nnc gives the largest."""
    import numpy as np
    import tensorflow as tf
    compiled = nnc.compile_text('use "unet.arch"(c=2)\n', str(ARCHITECTURES / "unet-c2.arch"))
    model = compiled.to_keras()
    for weight in model.weights:
        weight.assign(np.abs(weight.numpy()) + 0.01)
    x = tf.Variable(np.random.default_rng(0).uniform(0, 1, (1, 572, 572, 1)).astype("float32"))
    spans = []
    for row in range(186, 202):  # 16 rows: every phase of the four 2× upsamplings
        with tf.GradientTape() as tape:
            pixel = model(x)[0, row, 100, 0]
        rows = np.nonzero(tape.gradient(pixel, x).numpy()[0, :, :, 0].any(axis=1))[0]
        spans.append(rows.max() - rows.min() + 1)
    field = receptive_fields(compiled.network)[compiled.network.output]
    assert max(spans) == field.size[0] == 204
    assert min(spans) < max(spans)  # the windows differ with the position
