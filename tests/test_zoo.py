"""Today's CNN zoo written as the papers print it, against keras.applications built in the
same run (weights=None): the same total, trainable and non-trainable parameters as
`nnc stats` counts, and, with Keras's weights copied into nnc's model, the same outputs
and the same features before the classifier on random images."""
from __future__ import annotations

import math
from contextlib import contextmanager

import keras
import numpy as np
import pytest
from conftest import ARCHITECTURES
from test_lower import assert_same_function, images, randomize_biases_and_statistics

import nnc
from nnc.backends.keras.weights import copy_weights

# architecture file -> (keras.applications constructor, their feature layer, ours)
ZOO = {
    "mobilenet": (keras.applications.MobileNet, "conv_pw_13_relu", "conv10.1.relu6_2"),
    "mobilenetv2": (keras.applications.MobileNetV2, "out_relu", "conv2.relu6_1"),
    # Keras names MobileNetV3's activations by a global counter: compare before them.
    "mobilenetv3-large": (keras.applications.MobileNetV3Large, "conv_1_bn", "conv2.bn1"),
    "mobilenetv3-small": (keras.applications.MobileNetV3Small, "conv_1_bn", "conv2.bn1"),
    **{f"efficientnet-b{b}": (getattr(keras.applications, f"EfficientNetB{b}"),
                              "top_activation", "stage9.swish1") for b in range(8)},
    "convnext-tiny": (keras.applications.ConvNeXtTiny, "convnext_tiny_head_layernorm",
                      "classifier.layernorm1"),
    "convnext-small": (keras.applications.ConvNeXtSmall, "convnext_small_head_layernorm",
                       "classifier.layernorm1"),
    "xception": (keras.applications.Xception, "block14_sepconv2_act", "exit3.relu1"),
    "densenet121": (keras.applications.DenseNet121, "relu", "classifier.relu1"),
    "densenet169": (keras.applications.DenseNet169, "relu", "classifier.relu1"),
    "densenet201": (keras.applications.DenseNet201, "relu", "classifier.relu1"),
    "resnet50v2": (keras.applications.ResNet50V2, "post_relu", "post.relu1"),
    "resnet101v2": (keras.applications.ResNet101V2, "post_relu", "post.relu1"),
    "resnet152v2": (keras.applications.ResNet152V2, "post_relu", "post.relu1"),
    "inceptionv3": (keras.applications.InceptionV3, "mixed10", "mixed9_10.2.concat1"),
}


@contextmanager
def dtype_policy(name: str):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def weight_count(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO))
def test_the_zoo_is_keras_applications(name):
    make, their_features, our_features = ZOO[name]
    # In float64: at random weights the deepest networks (EfficientNet-B6 and B7) grow
    # their activations a hundredfold per stage, and float32 rounding, which differs
    # between two equal models that sum in another order, grows with them until the
    # classes differ. In float64 the two agree to rounding. ConvNeXt stays in float32:
    # Keras computes its depthwise convs as grouped Conv2D, which TensorFlow runs ten
    # times slower in float64, and its layer scale (1e-6) keeps the residual branches,
    # and their rounding, small.
    precision = "float32" if name.startswith("convnext") else "float64"
    with dtype_policy(precision):
        theirs = make(weights=None)
    compiled = nnc.load(str(ARCHITECTURES / f"{name}.arch"))
    totals = compiled.stats.totals
    assert (totals.params, totals.trainable, totals.non_trainable) == (
        theirs.count_params(), weight_count(theirs.trainable_weights),
        weight_count(theirs.non_trainable_weights))
    ours = compiled.to_keras(precision=precision)
    randomize_biases_and_statistics(theirs)
    copy_weights(theirs, ours)
    x = images(compiled.network.shape(compiled.network.input), 2).astype(precision)
    assert_same_function(theirs, ours, x, (their_features, our_features))


def test_mobilenet_has_the_papers_figures(load, reference):
    paper, stats = reference["mobilenet"], load("mobilenet").stats
    assert round(stats.totals.macs / 1e6) == paper["macs_paper_millions"]  # 568.7M
    assert round(stats.totals.trainable / 1e6, 1) == paper["params_paper_millions"]
    assert stats.weight_layers == paper["layers"]


def test_mobilenetv2_has_the_papers_figures(load, reference):
    paper, stats = reference["mobilenetv2"], load("mobilenetv2").stats
    layers = load("mobilenetv2").network.layers.values()
    weights = stats.totals.trainable - sum(l.params[0] for l in layers if l.kind.normalization)
    assert weights == 3_470_760
    assert int(weights / 1e5) / 10 == paper["params_paper_millions"]  # cut, not rounded
    assert round(weights / 1e6, 2) == paper["params_model_zoo_millions"]
    assert int(stats.totals.macs / 1e6) == paper["macs_paper_millions"]  # 300.8M


@pytest.mark.parametrize("size", ["large", "small"])
def test_mobilenetv3_has_the_papers_figures(load, reference, size):
    paper, stats = reference["mobilenetv3"], load(f"mobilenetv3-{size}").stats
    layers = load(f"mobilenetv3-{size}").network.layers.values()
    weights = stats.totals.trainable - sum(l.params[0] for l in layers if l.kind.normalization)
    assert int(weights / 1e5) / 10 == paper["params_paper_millions"][size]  # cut
    if size == "small":
        assert int(stats.totals.macs / 1e6) == paper["macs_paper_millions"][size]  # cut
    else:  # the model zoo's figure; Table 3 prints 219M (see the .arch file)
        assert round(stats.totals.macs / 1e6) == paper["macs_model_zoo_millions"][size]
        assert round(stats.totals.macs / 1e6) != paper["macs_paper_millions"][size]


def last_digit(value: float) -> float:
    """One unit of the last digit a paper prints: 0.01 for 0.39, 0.1 for 9.2, 1 for 43."""
    text = f"{value:g}"
    return 10 ** -len(text.split(".")[1]) if "." in text else 1


@pytest.mark.parametrize("b", range(8))
def test_efficientnet_has_the_papers_figures_to_their_last_digit(load, reference, b):
    """Table 2's parameters hold for B0-B7, its FLOPs (multiply-adds) for all but B4 and
    B5, which Table 2 prints 4-5% below the network whose parameters equal
    keras.applications' (the .arch files say so)."""
    paper, stats = reference["efficientnet"], load(f"efficientnet-b{b}").stats
    params, macs = paper["params_paper_millions"][b], paper["macs_paper_giga"][b]
    assert abs(stats.totals.params / 1e6 - params) <= last_digit(params)
    gap = stats.totals.macs / 1e9 / macs - 1
    if b in (4, 5):
        assert 0.04 < gap < 0.055
    else:
        assert abs(stats.totals.macs / 1e9 - macs) <= last_digit(macs)


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_convnext_has_the_papers_figures(load, reference, size):
    paper, stats = reference["convnext"], load(f"convnext-{size}").stats
    assert round(stats.totals.macs / 1e9, 1) == paper["macs_paper_giga"][size]
    assert round(stats.totals.params / 1e6, 1) == paper["params_code_millions"][size]


def test_an_inverted_residual_adds_its_input_only_where_the_shape_is_kept(load):
    layers = load("mobilenetv2").network.layers
    adds = sorted(n for n, layer in layers.items() if layer.closes_unit)
    # 17 bottlenecks, of which the first of each row but block5's changes the shape
    # (block5's first keeps 14×14 but goes from 64 to 96 maps): 10 keep it.
    assert len(adds) == 10
    assert "block2.2.add1" in adds and "block2.1.add1" not in adds


def test_xception_has_the_papers_figures(load, reference):
    paper, stats = reference["xception"], load("xception").stats
    assert stats.totals.trainable == paper["params"]
    assert stats.weight_layers == paper["conv_layers"] + 1  # and the logistic regression


def test_resnext_and_wide_resnet_have_torchvisions_counts(load, reference):
    resnext, wide = load("resnext50-32x4d").stats, load("wide-resnet50-2").stats
    assert resnext.totals.trainable == reference["resnext50_32x4d"]["params_torchvision"]
    assert round(resnext.totals.macs / 1e9, 1) == reference["resnext50_32x4d"]["macs_paper_giga"]
    assert wide.totals.trainable == reference["wide_resnet50_2"]["params_torchvision"]
    assert round(wide.totals.macs / 1e9, 1) == reference["wide_resnet50_2"]["macs_torchvision_giga"]
    assert resnext.weight_layers == wide.weight_layers == 50


@pytest.mark.parametrize("depth", [121, 169, 201])
def test_densenets_have_torchvisions_counts_and_their_names_depth(load, reference, depth):
    stats, published = load(f"densenet{depth}").stats, reference["densenet"]
    assert stats.totals.trainable == published["params_torchvision"][depth]
    assert round(stats.totals.macs / 1e9, 2) == published["macs_torchvision_giga"][depth]
    assert stats.weight_layers == depth


def test_a_conv_with_one_group_per_map_is_a_depthwise_conv():
    # Lowered to Keras's DepthwiseConv2D, which has a kernel of its own, rather than a
    # grouped Conv2D; it computes the grouped conv: filter c·m + j sees map c alone.
    compiled = nnc.compile_text("input 6x6x4\nx: conv3-8(groups=4)\n", "g.arch")
    model = compiled.to_keras()
    layer = model.get_layer("x.conv1")
    assert type(layer).__name__ == "DepthwiseConv2D" and layer.count_params() == 3 * 3 * 8 + 8
    kernel, bias = layer.get_weights()  # kernel: 3×3×4 maps×2 per map
    grouped = keras.layers.Conv2D(8, 3, padding="same", groups=4)
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 4)).astype("float32")
    grouped.build(x.shape)
    grouped.set_weights([kernel.reshape(3, 3, 1, 8), bias])
    np.testing.assert_allclose(model.predict(x, verbose=0), grouped(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("name, formula", [
    ("relu6", lambda x: np.clip(x, 0, 6)),
    ("swish", lambda x: x / (1 + np.exp(-x))),
    ("hard_sigmoid", lambda x: np.clip(x + 3, 0, 6) / 6),
    ("hard_swish", lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("gelu", lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
])
def test_the_activations_are_the_papers_functions(name, formula):
    model = nnc.compile_text(f"input 64\nx: {name}\n", "a.arch").to_keras()
    x = np.linspace(-8, 8, 64, dtype="float32")[None]
    np.testing.assert_allclose(model.predict(x, verbose=0), formula(x), rtol=1e-5, atol=1e-6)
