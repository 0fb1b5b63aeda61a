"""`nnc import`: an ONNX model written by nnc comes back as the .arch file's rows and
block; keras.applications' ResNet50, VGG16, MobileNetV2 and DenseNet121 come back with
Keras's own counts and, with their weights, compute what Keras computes; ResNet-50 and
DenseNet-121 fold into their papers' rows in under 40 lines; a model with a layer the
language lacks is a list of its nodes and exit status 2, or with --partial a file that
says what is missing. The round trips of every architecture through Keras and
ONNX are in tests/test_lower.py, on the models that test builds."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, TINY

import nnc
from nnc import cli
from nnc.present.fold import NotExpressible


def figures(net) -> dict:
    """What a round trip keeps: totals, and each layer's output shape, parameters and
    MACs in order. Dropout is the identity in an exported model and comes back as one;
    layers that pass their input on carry no figures."""
    totals = net.stats.totals
    layers = [(layer.shape, layer.params, layer.macs)
              for layer in net.network.layers.values()
              if not (layer.kind.stochastic or layer.kind.passes_on)]
    return {"params": (totals.trainable, totals.non_trainable), "macs": totals.macs,
            "layers": layers}


def assert_imports_with_the_same_figures(stem: str, compiled, model, exported) -> None:
    """The Keras model and the ONNX model of an architecture, imported, give its own
    figures (from ONNX, with every BN's γ)."""
    assert figures(nnc.from_keras(model)) == figures(compiled), stem
    assert figures(nnc.from_onnx(exported)) == with_every_gamma(compiled), stem


def with_every_gamma(compiled) -> dict:
    """The figures of the network had every BN a learned γ: ONNX's BatchNormalization
    always has one, so a `bn(scale=false)` (Inception-v3) comes back with γ (ones), the
    same function with C more trainable parameters."""
    expected = figures(compiled)
    layers = [layer for layer in compiled.network.layers.values()
              if not (layer.kind.stochastic or layer.kind.passes_on)]
    gammas = [layer.shape[-1] if layer.attrs.get("scale") is False and
              layer.kind.normalization else 0 for layer in layers]
    expected["layers"] = [(shape, (params[0] + gamma, params[1]), macs) for
                          (shape, params, macs), gamma in zip(expected["layers"], gammas)]
    trainable, non_trainable = expected["params"]
    expected["params"] = (trainable + sum(gammas), non_trainable)
    return expected


def test_the_onnx_import_of_resnet50_is_the_fixture_s_table():
    """The rows, the block and its repeats are those of tests/fixtures/resnet50-keras.arch
    (He et al.'s Table 1), found in the exported graph."""
    original = nnc.load(str(ROOT / "tests" / "fixtures" / "resnet50-keras.arch"))
    imported = nnc.from_onnx(original.to_onnx())
    lines = {" ".join(line.split()) for line in imported.network.source.splitlines()}
    assert figures(imported) == figures(original)
    assert [row.name for row in imported.network.rows] == [
        "conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "pool", "fc"]
    assert "conv2_x: maxpool3/2(padding=1, rounding=floor), resunit(64) x3" in lines
    assert "conv4_x: resunit(256, s=2), resunit(256) x5" in lines
    assert "conv1-{w}/{s}, bn, relu, conv3-{w}, bn, relu, conv1-{4*w}, bn" in lines


def test_importing_an_onnx_file_never_imports_tensorflow_or_keras(tmp_path):
    onnx_path, arch = tmp_path / "tiny.onnx", tmp_path / "tiny.arch"
    original = nnc.load_string(TINY, "tiny.arch")
    original.build(str(onnx_path))
    code = ("import sys, nnc.cli\n"
            f"code = nnc.cli.main(['import', {str(onnx_path)!r}, '-o', {str(arch)!r}])\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
            "print(code, heavy, file=sys.stderr)\n"
            "sys.exit(1 if code or heavy else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert figures(nnc.load(str(arch))) == figures(original)


# --- what the language lacks --------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    from nnc.backends.keras.runtime import import_keras
    return import_keras()


def save(model, path) -> str:
    model.save(str(path))
    return str(path)


def test_an_lstm_is_listed_with_its_node_and_op_and_exits_2_unless_partial(keras, tmp_path,
                                                                      capsys):
    x = keras.Input((12, 8))
    y = keras.layers.LSTM(16, name="encoder")(x)
    model = keras.Model(x, keras.layers.Dense(3, name="head")(y), name="tagger")
    out = tmp_path / "tagger.arch"
    assert cli.main(["import", save(model, tmp_path / "tagger.keras"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "tagger.keras: node 'encoder' (LSTM): no nnc kind is lowered to this Keras layer" \
        in err
    assert not out.exists()
    # --partial writes the rest: the LSTM as identity, marked; the row named after a
    # layer called "head" is labelled head_ so that it does not read as the keyword
    assert cli.main(["import", str(tmp_path / "tagger.keras"), "-o", str(out),
                     "--partial"]) == 0
    text = out.read_text()
    assert "# tagger.keras: node 'encoder' (LSTM): no nnc kind" in text
    assert "head_:" in text and nnc.load(str(out)).stats.totals.params == 3 * 8 + 3


@pytest.fixture(scope="module")
def with_custom_layer(keras):
    """conv, a custom layer (a learned scale of Keras's own making), conv."""

    @keras.saving.register_keras_serializable(package="test_import")
    class Scale(keras.layers.Layer):
        def build(self, shape):
            self.gain = self.add_weight(shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.gain

    x = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(8, 3, padding="same", name="stem")(x)
    y = Scale(name="gain")(y)
    y = keras.layers.Conv2D(4, 3, padding="same", name="out")(y)
    return keras.Model(x, y, name="custom")


def test_a_model_keras_cannot_load_is_a_user_error(tmp_path, capsys):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"not a zip file")
    assert cli.main(["import", str(path), "-o", str(tmp_path / "out.arch")]) == 2
    assert "Keras cannot load" in capsys.readouterr().err


def test_a_custom_layer_is_an_error_from_the_api(with_custom_layer):
    with pytest.raises(NotExpressible, match=r"custom: node 'gain' \(Scale\): no nnc kind"):
        nnc.from_keras(with_custom_layer)


def test_partial_writes_the_rest_and_marks_what_is_missing(with_custom_layer, tmp_path):
    path = tmp_path / "custom.keras"
    with_custom_layer.save(str(path))
    out = tmp_path / "custom.arch"
    assert cli.main(["import", str(path), "-o", str(out), "--partial"]) == 0
    text = out.read_text()
    assert "# custom.keras: node 'gain' (Scale): no nnc kind is lowered" in text
    net = nnc.load(str(out))
    # the two convs are there; the custom layer's 8 weights are what is missing
    assert net.stats.totals.params == with_custom_layer.count_params() - 8


# --- keras.applications ---------------------------------------------------------------

APPLICATIONS = {  # input sizes small enough to build in seconds, every stage still there
    "ResNet50": 64, "VGG16": 64, "MobileNetV2": 96, "DenseNet121": 64}


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_keras_applications_import_with_keras_counts_and_compute_the_same(keras, name,
                                                                          tmp_path):
    from test_lower import randomize_biases_and_statistics

    from nnc.backends.keras.raise_ import with_weights
    size = APPLICATIONS[name]
    theirs = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
    randomize_biases_and_statistics(theirs)
    net = nnc.from_keras(theirs)
    totals = net.stats.totals
    assert (totals.trainable, totals.params) == (trainable(theirs), theirs.count_params())
    ours = with_weights(theirs, net.network.source, f"{name}.arch")
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    # the output, and the features before the classifier, where a wrong network would
    # show even when the softmax is nearly flat; called eagerly, as tracing costs more
    features, output = (keras.Model(m.input, [m.layers[-2].output, m.output])(x, training=False)
                        for m in (theirs, ours))
    (a_features, a), (b_features, b) = ([keras.ops.convert_to_numpy(t) for t in pair]
                                        for pair in (features, output))
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)
    np.testing.assert_allclose(b_features, a_features, rtol=1e-4,
                               atol=1e-4 * np.abs(a_features).max())


@pytest.mark.slow
@pytest.mark.parametrize("name, rows", [
    ("ResNet50", ["conv1", "pool1", "conv2", "conv3", "conv4", "conv5", "avg_pool",
                  "predictions"]),
    ("DenseNet121", ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "conv4", "pool4",
                     "conv5", "avg_pool", "predictions"])])
def test_resnet50_and_densenet121_fold_into_their_tables(keras, name, rows):
    """Keras's stages are the papers' rows (ResNet's Table 1: conv1 … conv5_x;
    DenseNet's Table 1: dense blocks and transition layers); one block each, repeated."""
    theirs = getattr(keras.applications, name)(weights=None, input_shape=(64, 64, 3))
    net = nnc.from_keras(theirs)
    assert [row.name for row in net.network.rows] == rows
    lines = net.network.source.splitlines()
    assert len(lines) < 40
    assert sum(line.startswith("block ") for line in lines) == 1


def test_weights_come_along_into_a_model_that_computes_the_same(keras, tmp_path):
    """--weights: the imported network's Keras model, with the source's weights (a
    residual unit with a projection, whose weights must land on the right layers)."""
    from test_lower import randomize_biases_and_statistics
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, padding="same", name="b1_conv")(x)
    y = keras.layers.BatchNormalization(name="b1_bn")(y)
    shortcut = keras.layers.Conv2D(4, 1, name="b1_proj")(x)
    y = keras.layers.Add(name="b1_add")([shortcut, y])
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    theirs = keras.Model(x, keras.layers.Dense(5, name="fc")(y), name="small")
    randomize_biases_and_statistics(theirs)
    out, weights = tmp_path / "small.arch", tmp_path / "small-nnc.keras"
    assert cli.main(["import", save(theirs, tmp_path / "small.keras"), "-o", str(out),
                     "--weights", str(weights)]) == 0
    ours = keras.saving.load_model(str(weights))
    batch = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(batch, verbose=0), theirs.predict(batch, verbose=0),
                               rtol=1e-5, atol=1e-5)
    assert ours.count_params() == theirs.count_params()


def test_a_join_across_rows_comes_back_as_a_skip():
    """U-Net's copy and crop: the long way down and up stays in its rows, and the join
    is `skip(row, crop=true)` where the maps meet."""
    original = nnc.load_string("input 20x20x3\n"
                               "default conv(padding=valid, activation=relu)\n"
                               "down:   conv3-8 x2\n"
                               "bottom: maxpool, conv3-16\n"
                               "up:     upconv2-8, skip(down, crop=true), conv3-8\n",
                               "level.arch")
    imported = nnc.from_onnx(original.to_onnx())
    assert figures(imported) == figures(original)
    lines = {" ".join(line.split()) for line in imported.network.source.splitlines()}
    assert "up: upconv2-8, skip(down, crop=true), conv3-8" in lines


# A Vision Transformer as architectures/vit-*.arch write it, with two small layers.
TINY_VIT = """\
input 32x32x3
block encoder(d, heads):
    residual:
        layernorm, attention(heads, key_size=8), dropout(0.1)
    residual:
        layernorm, fc-{2*d}(activation=gelu), fc-{d}
embed:      patch8-16, classtoken, posembed
encoder:    encoder(16, 4) x2
classifier: layernorm, token, fc-5
"""


@pytest.mark.parametrize("reader", ["keras", "onnx"])
def test_a_vision_transformer_comes_back_as_its_encoder_block_repeated(reader, keras):
    """Patches, class token, position embedding, attention (its own head size kept, as
    a default line) and the token taken come back as the kinds they were, the encoder
    one block x2."""
    original = nnc.load_string(TINY_VIT, "vit.arch")
    imported = nnc.from_keras(original.to_keras()) if reader == "keras" else \
        nnc.from_onnx(original.to_onnx())
    assert figures(imported) == figures(original)
    lines = {" ".join(line.split()) for line in imported.network.source.splitlines()}
    assert "embed: patch8-16, classtoken, posembed" in lines
    assert "default attention(key_size=8)" in lines
    dropout = "dropout(0.1)" if reader == "keras" else "identity"  # ONNX: inference only
    assert f"layernorm, attention(4), {dropout}" in lines
    assert "encoder: resunit() x2" in lines
    assert "classifier: layernorm, token, fc-5" in lines


@pytest.mark.parametrize("reader", ["keras", "onnx"])
def test_lenet5_comes_back_with_its_table_subsampling_and_rbf(reader, load, keras):
    """LeNet-5's rows (LeCun et al. 1998, Figure 2) with C3's connection table (Table I),
    S2's and S4's trainable subsampling and the RBF output, as architectures/lenet5.arch
    writes them; the table written a row a line, as the paper prints it."""
    original = load("lenet5")
    imported = nnc.from_keras(original.to_keras()) if reader == "keras" else \
        nnc.from_onnx(original.to_onnx())
    assert figures(imported) == figures(original)
    layers = [layer.attrs for layer in imported.network.layers.values()]
    assert [row.name for row in imported.network.rows] == ["C1", "S2", "C3", "S4", "C5",
                                                           "F6", "output"]
    assert original.network.layers["C3.conv1"].attrs["table"] in \
        [a.get("table") for a in layers]
    lines = imported.network.source.splitlines()  # the table a row a line, as Table I
    assert lines[lines.index("C3:     conv5-16(table=[") + 1] == \
        '    "X . . . X X X . . X X X X . X X",'


def torch_style_resnet():
    """A small ResNet as torch.onnx.export writes torchvision's: channels-first input,
    scoped node names (`/layer1/layer1.0/conv1/Conv`), ReLUs and Adds of their own, a
    global pool, Flatten and Gemm. Written with onnx.helper: no PyTorch here."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    nodes, weights = [], []

    def op(kind, inputs, scope, **attributes):
        name = f"/{scope}/{kind}" if scope else f"/{kind}"
        nodes.append(helper.make_node(kind, inputs, [f"{name}_output_0"], name=name,
                                      **attributes))
        return f"{name}_output_0"

    def conv_bn(x, scope, conv, bn, cin, cout, stride=1):
        weights.append(numpy_helper.from_array(
            rng.normal(0, 0.1, (cout, cin, 3, 3)).astype("float32"), f"{scope}.{conv}.w"))
        x = op("Conv", [x, f"{scope}.{conv}.w"], f"{scope}/{conv}".strip("/"),
               kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride])
        for part in ("gamma", "beta", "mean", "var"):
            weights.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, cout).astype(
                "float32"), f"{scope}.{bn}.{part}"))
        return op("BatchNormalization", [x] + [f"{scope}.{bn}.{p}" for p in
                                               ("gamma", "beta", "mean", "var")],
                  f"{scope}/{bn}".strip("/"), epsilon=1e-5)

    x = op("Relu", [conv_bn("input", "", "conv1", "bn1", 3, 8)], "relu")
    for block in range(2):
        scope = f"layer1/layer1.{block}"
        y = op("Relu", [conv_bn(x, scope, "conv1", "bn1", 8, 8)], f"{scope}/relu")
        y = conv_bn(y, scope, "conv2", "bn2", 8, 8)
        x = op("Relu", [op("Add", [y, x], scope)], f"{scope}/relu_1")
    x = op("Flatten", [op("GlobalAveragePool", [x], "avgpool")], "", axis=1)
    weights += [numpy_helper.from_array(rng.normal(0, 0.1, (10, 8)).astype("float32"), "fc.w"),
                numpy_helper.from_array(np.zeros(10, "float32"), "fc.b")]
    output = op("Gemm", [x, "fc.w", "fc.b"], "fc", transB=1)
    graph = helper.make_graph(
        nodes, "torch_jit", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                           [1, 3, 32, 32])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, 10])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_a_pytorch_style_export_reads_its_module_paths_as_rows_and_blocks():
    """torchvision's names give the rows (conv1, layer1, avgpool, fc) and the blocks
    (layer1.0, layer1.1): one residual block, repeated."""
    imported = nnc.from_onnx(torch_style_resnet())
    lines = {" ".join(line.split()) for line in imported.network.source.splitlines()}
    assert [row.name for row in imported.network.rows] == ["conv1", "layer1", "avgpool", "fc"]
    assert "layer1: resunit() x2" in lines
    assert "conv3-8, bn, relu, conv3-8, bn" in lines
    totals = imported.stats.totals
    # conv 3·3·3·8 and the fc 8·10 + 10; four convs 3·3·8·8; five BNs of 8, half
    # of each trainable (γ, β)
    assert totals.trainable == 3 * 3 * 3 * 8 + 4 * 3 * 3 * 8 * 8 + 5 * 2 * 8 + 8 * 10 + 10
    assert totals.non_trainable == 5 * 2 * 8


def test_a_file_that_is_not_an_onnx_model_is_a_user_error(tmp_path, capsys):
    from nnc import cli
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model\n")
    assert cli.main(["import", str(bad), "-o", str(tmp_path / "x.arch")]) == 2
    err = capsys.readouterr().err
    assert "is not an ONNX model that the onnx package can read. Received: " in err
    assert not (tmp_path / "x.arch").exists()
