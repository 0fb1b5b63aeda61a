"""U-Net's Figure 1 (architectures/unet.arch) against the paper's figures, and its
Keras model against the checked graph."""
import pytest
from conftest import ARCHITECTURES

import nnc


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
