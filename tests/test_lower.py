"""Lowering to Keras: every architecture builds with the counts of `nnc stats` and runs,
and its ONNX model computes the same;
the lowered VGG-D and a ResNet-50 in Keras's layout compute exactly the functions of
keras.applications' VGG16 and ResNet50; a model that differs from the checked graph is
an internal error naming the node; side heads, precision policies and jit."""
from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import ARCHITECTURES, ROOT, compile_source

import nnc
from nnc.backends.keras.model import LoweringError
from nnc.backends.keras.weights import copy_weights

FIXTURES = ROOT / "tests" / "fixtures"
EVERY_KIND = FIXTURES / "every-kind.arch"
BUILT_ONCE = {"vggD"}  # full-size networks that more than one test needs


@pytest.fixture(scope="session")
def built():
    """Models by architecture path; those in BUILT_ONCE are kept for the session."""
    cache = {}

    def get(path: Path):
        if path in cache:
            return cache[path]
        model = nnc.load(str(path)).to_keras()
        if path.stem in BUILT_ONCE:
            cache[path] = model
        return model
    return get


def weight_count(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


def images(shape, count: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, *shape)).astype("float32")


def as_list(outputs) -> list[np.ndarray]:
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(ARCHITECTURES.glob("*.arch")), ids=lambda p: p.stem)
def test_every_architecture_builds_with_the_counts_of_nnc_stats_and_runs(path, built):
    """Its Keras model has nnc's counts and runs; its ONNX model, written from the
    checked graph with the Keras model's weights (biases and statistics made random),
    computes the same in onnxruntime (tests/test_onnx.py); and both models, imported
    back (`nnc import`), give the file's figures (tests/test_import.py)."""
    from test_import import assert_imports_with_the_same_figures
    from test_onnx import assert_onnx_computes_what_keras_computes
    compiled = nnc.load(str(path))
    model = built(path)
    totals = compiled.stats.totals
    assert model.count_params() == totals.params
    assert weight_count(model.trainable_weights) == totals.trainable
    assert weight_count(model.non_trainable_weights) == totals.non_trainable

    net, graph = compiled.network, compiled.network.layers
    outputs = as_list(model(images(graph[net.input].shape), training=False))
    expected = [net.output] + [row.output for row in net.heads]
    assert [o.shape for o in outputs] == [(1, *graph[n].shape) for n in expected]
    assert all(np.isfinite(o).all() for o in outputs)
    randomize_biases_and_statistics(model)
    exported = assert_onnx_computes_what_keras_computes(compiled, model,
                                                        images(graph[net.input].shape) / 255)
    assert_imports_with_the_same_figures(path.stem, compiled, model, exported)


# --- the same functions as keras.applications -------------------------------------------

def randomize_biases_and_statistics(model, seed: int = 1) -> None:
    """Keras starts biases, β and the moving statistics at 0 or 1, where a mix-up between
    layers would go unseen: give them random values."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.name in ("bias", "beta", "moving_mean"):
            w.assign(rng.normal(0, 0.1, w.shape))
        elif w.name in ("gamma", "moving_variance"):
            w.assign(rng.uniform(0.5, 1.5, w.shape))


def assert_same_function(theirs, ours, x, features: tuple[str, str]) -> None:
    """Equal outputs to 1e-5, and equal features before the classifier (where a wrong
    network would show even when the softmax is nearly flat)."""
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=0, atol=1e-5)
    theirs_features = keras.Model(theirs.input, theirs.get_layer(features[0]).output)
    ours_features = keras.Model(ours.input, ours.get_layer(features[1]).output)
    a, b = theirs_features.predict(x, verbose=0), ours_features.predict(x, verbose=0)
    assert np.abs(a).max() > 0
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())


@pytest.mark.slow
def test_vggD_is_keras_applications_VGG16(built, reference):
    theirs = keras.applications.VGG16(weights=None)
    ours = built(ARCHITECTURES / "vggD.arch")
    assert theirs.count_params() == reference["vgg"]["params_exact"]["D"]
    assert ours.count_params() == reference["vgg"]["params_exact"]["D"]
    randomize_biases_and_statistics(theirs)
    copy_weights(theirs, ours)
    assert_same_function(theirs, ours, images((224, 224, 3), 2), ("fc2", "fc7.fc1"))


@pytest.mark.slow
def test_a_resnet50_in_keras_layout_is_keras_applications_ResNet50(reference):
    compiled = nnc.load(str(FIXTURES / "resnet50-keras.arch"))
    theirs = keras.applications.ResNet50(weights=None)
    published = reference["resnet"]["params_keras_applications"][50]
    assert theirs.count_params() == published == compiled.stats.totals.params
    ours = compiled.to_keras()
    randomize_biases_and_statistics(theirs)
    copy_weights(theirs, ours)
    assert_same_function(theirs, ours, images((224, 224, 3), 2), ("avg_pool", "pool.avgpool1"))


# --- names, verification -------------------------------------------------------------------

@pytest.fixture(scope="session")
def every_kind_model():
    return nnc.load(str(EVERY_KIND)).to_keras()


def test_every_layer_is_named_after_its_node(every_kind_model):
    graph = nnc.load(str(EVERY_KIND)).network.layers
    names = {layer.name for layer in every_kind_model.layers}
    helpers = names - set(graph)
    assert set(graph) <= names
    # Helpers carry their node's name: explicit padding before a conv or pool (or a
    # ceil-rounded max pool's overhang), the flattening before an fc with a spatial
    # input, the reshape of a gate's vector and of a patch embedding's grid into tokens.
    assert helpers == {"conv1.conv1.pad", "pool1.maxpool1.pad", "aux.avgpool1.pad",
                       "mixed.b2.conv1.pad", "mixed.b3.avgpool1.pad", "mobile.maxpool1.pad",
                       "fc.fc1.flatten", "lenet.fc1.flatten", "mobile.fc1.flatten",
                       "se.multiply1.reshape", "vit.patch1.tokens"}
    assert every_kind_model.get_layer("res_a.shortcut.pad_shortcut1").count_params() == 0


# Each side head's parameters, counted from the fixture (its convs have no bias).
HEAD_PARAMS = {
    "aux": 32 * 8 + (4 * 4 * 8 * 10 + 10),       # conv1-8 on 32 maps; fc-10 on 4×4×8
    "aux2": 112 * 10 + 10,                        # fc-10 on 112 values
    # conv5-6 on 3 maps; 2 per map of each subsample; 12 X in the table, 5×5 each;
    # fc-12 on 4×4×4; the rbf's 10 codes of 12 (non-trainable)
    "lenet": 5 * 5 * 3 * 6 + 2 * 6 + 5 * 5 * 12 + 2 * 4 + (64 * 12 + 12) + 12 * 10,
    # dwconv3 on 32 maps; sepconv3-16 on 32; conv1-8 on 16; fc-10 on 2×2×24
    "mobile": (9 * 32 + 32) + (9 * 32 + 32 * 16 + 16) + 16 * 8 + (96 * 10 + 10),
    "unet": (2 * 2 * 64 * 8 + 8) + 3 * 3 * 24 * 8 + (8 * 10 + 10),  # upconv, conv, fc
    # patches 8×8×3 to 16; class token; 17 positions; 3 layernorms; attention's four
    # 16×16 projections with biases; the MLP 16→32→16; fc-10
    "vit": (8 * 8 * 3 * 16 + 16) + 16 + 17 * 16 + 3 * 32 + (4 * 16 * 16 + 4 * 16)
           + (16 * 32 + 32) + (32 * 16 + 16) + (16 * 10 + 10),
}


def test_side_heads_are_extra_outputs_and_the_inference_model_leaves_them_out():
    compiled = nnc.load(str(EVERY_KIND))
    training, inference = compiled.to_keras(), compiled.to_keras(heads=False)
    assert training.output_names == ["prob.softmax1", "aux.softmax1", "aux2.softmax1",
                                     "lenet.rbf1", "mobile.fc1", "unet.fc1", "vit.fc3"]
    assert inference.output_names == ["prob.softmax1"]
    assert inference.count_params() == compiled.stats.main.params
    only_training = [l for l in training.layers if l.name not in
                     {l.name for l in inference.layers}]
    assert {l.name.split(".")[0] for l in only_training} == set(HEAD_PARAMS)
    per_head = {head: sum(l.count_params() for l in only_training
                          if l.name.split(".")[0] == head) for head in HEAD_PARAMS}
    assert per_head == HEAD_PARAMS
    assert training.count_params() - inference.count_params() == sum(HEAD_PARAMS.values())


@pytest.mark.parametrize("field, wrong", [("params", (4608 + 1, 0)), ("shape", (8, 8, 31))])
def test_a_model_that_differs_from_nnc_stats_is_an_internal_error_naming_the_node(field, wrong):
    compiled = nnc.load(str(EVERY_KIND))
    setattr(compiled.network.layers["res_a.conv1"], field, wrong)  # as a wrong rule would
    with pytest.raises(LoweringError, match=r"res_a\.conv1 at .*every-kind\.arch:19:13: "):
        compiled.to_keras()


def test_a_grouped_conv_computes_what_keras_grouped_conv2d_computes():
    """nnc computes groups one at a time under TensorFlow (faster, and ONNX-exportable);
    with Keras's weights copied in, the output is Keras's own grouped Conv2D's."""
    x = keras.Input((9, 9, 8))
    theirs = keras.Model(x, keras.layers.Conv2D(12, 3, padding="same", groups=4)(x))
    randomize_biases_and_statistics(theirs)
    ours = compile_source("input 9x9x8\nc: conv3-12(groups=4)\n").to_keras()
    copy_weights(theirs, ours)
    batch = images((9, 9, 8), 2)
    np.testing.assert_allclose(ours.predict(batch, verbose=0), theirs.predict(batch, verbose=0),
                               rtol=1e-5, atol=1e-3)


def caffe_pool(x: np.ndarray, k: int, s: int, pad: int, out: int, average: bool) -> np.ndarray:
    """Caffe's pooling layer, written from its definition: window (i, j) starts at
    i·s − pad; an average divides by the window's size clipped to the input and its
    padding (padding counts as zeros), a max looks at the input only."""
    h = x.shape[1]
    result = np.zeros((x.shape[0], out, out, x.shape[3]))
    for i in range(out):
        for j in range(out):
            top, left = i * s - pad, j * s - pad
            bottom, right = min(top + k, h + pad), min(left + k, h + pad)
            size = (bottom - top) * (right - left)
            window = x[:, max(top, 0):min(bottom, h), max(left, 0):min(right, h), :]
            result[:, i, j, :] = (window.sum(axis=(1, 2)) / size if average
                                  else window.max(axis=(1, 2)))
    return result


@pytest.mark.parametrize("pool, average", [("maxpool", False), ("avgpool", True)])
@pytest.mark.parametrize("size, k, s, pad, out", [(8, 3, 2, 0, 4), (5, 2, 2, 1, 3),
                                                  (112, 3, 2, 0, 56)])
def test_ceil_rounded_pooling_computes_what_caffe_does(pool, average, size, k, s, pad, out):
    """(5 + 2 − 2)/2 rounds up to 3 windows after the first, but the last would start in
    the bottom padding, so Caffe (and PyTorch's ceil_mode) make 3; GoogLeNet's Caffe
    model pools 112 to 56 where floor would give 55."""
    compiled = compile_source(f"input {size}x{size}x2\n"
                              f"p: {pool}{k}/{s}(padding={pad}, rounding=ceil)\n")
    assert compiled.network.layers["p." + pool + "1"].shape == (out, out, 2)
    x = images((size, size, 2), 2) - 128  # negative values: the max must skip padding
    got = compiled.to_keras().predict(x, verbose=0)
    np.testing.assert_allclose(got, caffe_pool(x, k, s, pad, out, average), rtol=1e-5,
                               atol=1e-3)


def test_a_cropped_skip_puts_the_centre_of_the_earlier_maps_first():
    compiled = compile_source("""
        input 12x12x2
        default conv(padding=valid)
        down: conv3-2
        bottom: maxpool, conv3-3
        up: upconv2-4, skip(down, crop=true), upsample2(interpolation=bilinear)
    """)
    model = compiled.to_keras()
    assert model.get_layer("up.upconv1").output.shape[1:] == (6, 6, 4)
    probe = keras.Model(model.input, [model.get_layer("down.conv1").output,
                                      model.get_layer("up.concat1").output])
    down, joined = probe.predict(images((12, 12, 2), 2), verbose=0)
    np.testing.assert_array_equal(joined[..., :2], down[:, 2:8, 2:8, :])  # 10² → 6²
    assert model.output.shape[1:] == (12, 12, 6)


def test_keras_refusing_a_layer_is_an_internal_error_naming_the_node(monkeypatch):
    from nnc.backends.keras.lowering import LOWERINGS

    def broken(kind, a, name, ins, keras):
        return keras.layers.Dense(0, name=name)  # Keras refuses zero units
    monkeypatch.setitem(LOWERINGS, "lrn", broken)
    with pytest.raises(LoweringError, match=r"conv1\.lrn1 at .*every-kind\.arch:16:.*lrn"):
        nnc.load(str(EVERY_KIND)).to_keras()


# --- precision, jit ------------------------------------------------------------------------

def test_mixed_precision_keeps_logits_and_softmax_in_float32():
    compiled = nnc.load(str(EVERY_KIND))
    model = compiled.to_keras(precision="mixed_float16")
    policies = {layer.name: layer.dtype_policy.name for layer in model.layers}
    assert policies["res_a.conv1"] == policies["conv1.lrn1"] == "mixed_float16"
    for name in ("prob.softmax1", "fc.fc2", "aux.softmax1", "aux.fc1", "aux2.fc1"):
        assert policies[name] == "float32", name
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    assert model.count_params() == compiled.stats.totals.params
    outputs = as_list(model(images((32, 32, 3), 2) / 255, training=False))
    assert all(o.dtype == np.float32 and np.isfinite(o).all() for o in outputs)


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="Received: precision='float16'"):
        nnc.load(str(EVERY_KIND)).to_keras(precision="float16")


def test_float64_is_float64_throughout_the_logits_and_softmax_included():
    model = nnc.load(str(EVERY_KIND)).to_keras(precision="float64")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float64"}


def test_jit_compiles_the_model_for_xla():
    model = nnc.load(str(EVERY_KIND)).to_keras(jit=True)
    assert model.compiled and model.jit_compile is True
    assert as_list(model.predict(images((32, 32, 3)), verbose=0))[0].shape == (1, 10)


def test_a_lowering_table_must_cover_every_kind_and_only_kinds():
    from nnc.backends import check_coverage
    from nnc.backends.keras.lowering import LOWERINGS
    check_coverage(LOWERINGS, "Keras")  # the shipped table is complete
    partial = {k: v for k, v in LOWERINGS.items() if k != "lrn"}
    with pytest.raises(TypeError, match=r"no lowering for \['lrn'\]"):
        check_coverage(partial, "Keras")
    with pytest.raises(TypeError, match=r"unknown kinds \['conv7'\]"):
        check_coverage({**LOWERINGS, "conv7": None}, "Keras")
