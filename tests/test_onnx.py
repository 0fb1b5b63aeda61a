"""The ONNX backend: written from the checked graph with the onnx package alone. Every
kind computes in onnxruntime what the Keras model computes with the same weights;
`nnc build -o x.onnx` runs where TensorFlow, Keras, JAX and torch cannot be imported;
grouped convs are single Conv nodes; the file carries the network's source, rows and
positions; the self-check catches a lowering that disagrees with the graph; `nnc export`
writes a trained model's weights. Every architecture file is compared in
tests/test_lower.py, where its Keras model is built once for both checks."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime
import pytest
from conftest import ARCHITECTURES, ROOT, TINY, run_nnc

import nnc
from nnc import cli
from nnc.backends.keras.weights import weights_by_layer
from nnc.backends.onnx import lowering
from nnc.backends.onnx.graph import LoweringError
from nnc.errors import BuildError

EVERY_KIND = ROOT / "tests" / "fixtures" / "every-kind.arch"
HEAVY = ("tensorflow", "keras", "jax", "torch", "tf2onnx")


def run_onnx(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def assert_onnx_computes_what_keras_computes(compiled, model, x):
    """The ONNX model with the Keras model's weights: every output (side heads too)
    within 1e-4 of the Keras output's scale. Returns the ONNX model."""
    from test_lower import as_list
    expected = as_list(model(x, training=False))
    exported = compiled.to_onnx(trained=weights_by_layer(model, compiled.network))
    got = run_onnx(exported, x)
    assert [g.shape for g in got] == [e.shape for e in expected]
    for g, e in zip(got, expected):
        assert np.abs(g - e).max() <= 1e-4 * max(np.abs(e).max(), 1e-6)
    return exported


def test_every_kind_computes_in_onnxruntime_what_keras_computes():
    from test_lower import images, randomize_biases_and_statistics
    compiled = nnc.load(str(EVERY_KIND))
    kinds = {layer.kind.name for layer in compiled.network.layers.values()}
    assert kinds <= set(lowering.LOWERINGS)
    model = compiled.to_keras()
    randomize_biases_and_statistics(model)
    x = images(compiled.network.shape(compiled.network.input), 2) / 255
    assert_onnx_computes_what_keras_computes(compiled, model, x)


def build_without_heavy_modules(*args: str) -> subprocess.CompletedProcess:
    """`nnc` in a fresh process where TensorFlow, Keras, JAX, torch and tf2onnx cannot be
    imported, as in an install of nnc's light dependencies plus onnx and onnxruntime."""
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        HEAVY = {HEAVY!r}
        class Absent(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HEAVY:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Absent())
        from nnc.cli import main
        code = main(sys.argv[1:])
        assert not [m for m in sys.modules if m.split(".")[0] in HEAVY]
        sys.exit(code)
        """)
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("arch", [ARCHITECTURES / "lenet5.arch",
                                  EVERY_KIND,  # every kind's lowering, without Keras
                                  # full-size: 240 MB and 100 MB of weights written
                                  pytest.param(ARCHITECTURES / "alexnet.arch",
                                               marks=pytest.mark.slow),
                                  pytest.param(ARCHITECTURES / "resnet50.arch",
                                               marks=pytest.mark.slow)],
                         ids=lambda p: p.stem)
def test_build_writes_onnx_without_tensorflow_or_keras(arch, tmp_path):
    path = tmp_path / f"{arch.stem}.onnx"
    result = build_without_heavy_modules("build", str(arch), "-o", str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wrote {path} (onnx, " in result.stdout
    compiled = nnc.load(str(arch))
    assert f"{compiled.stats.totals.params:,} params" in result.stdout
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    x = np.random.default_rng(0).random((1, *compiled.network.shape(compiled.network.input)),
                                        dtype=np.float32)
    outputs = run_onnx(model, x)
    net = compiled.network
    assert [o.shape for o in outputs] == [(1, *net.shape(n)) for n in
                                          [net.output, *(row.output for row in net.heads)]]
    assert all(np.isfinite(o).all() for o in outputs)


def test_alexnets_grouped_convs_are_single_conv_nodes_with_two_groups():
    compiled = nnc.load(str(ARCHITECTURES / "alexnet.arch"))
    convs = [n for n in compiled.to_onnx().graph.node if n.op_type == "Conv"]
    groups = {n.name.split("/")[0]: next((a.i for a in n.attribute if a.name == "group"), 1)
              for n in convs}
    assert groups == {"conv1.conv1": 1, "conv2.conv1": 2, "conv3.conv1": 1, "conv4.conv1": 2,
                      "conv5.conv1": 2}


def test_the_file_carries_the_source_rows_and_positions(tmp_path):
    path = tmp_path / "net.arch"
    path.write_text(TINY)
    compiled = nnc.load(str(path))
    model = compiled.to_onnx()
    props = {p.key: p.value for p in model.metadata_props}
    assert props["nnc.source"] == TINY and props["nnc.network"] == compiled.network.name
    layers = compiled.network.layers
    for node in model.graph.node:
        if node.name.split("/")[0] != compiled.network.input:
            layer = layers[node.name.split("/")[0]]
            assert node.doc_string == f"row {layer.row} {layer.coord}"
    assert {n.name.split("/")[0] for n in model.graph.node} == set(layers)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert model.opset_import[0].version == 17


def test_a_lowering_that_disagrees_with_the_graph_is_an_internal_error(monkeypatch):
    """A lowering that pads two rows too many is caught by the self-check, which names
    the layer and its position; where an fc after it no longer fits, onnx.checker's
    shape inference catches it first."""
    original = lowering.LOWERINGS["zeropad"]

    def one_row_too_many(e, s):
        return original(e, type(s)(**{**vars(s), "attrs": {"size": (2, 1)}}))
    monkeypatch.setitem(lowering.LOWERINGS, "zeropad", one_row_too_many)
    compiled = nnc.compile_text("input 8x8x3\npad: zeropad1\npool: avgpool\n", "pad.arch")
    with pytest.raises(LoweringError, match=r"pad.zeropad1 at pad.arch:2:6: the ONNX output "
                                            r"is \['batch', 3, 12, 10\] but nnc computed "
                                            r"\['batch', 3, 10, 10\]"):
        compiled.to_onnx()
    fc_after = nnc.compile_text("input 8x8x3\npad: zeropad1\nfc: fc-2\n", "pad.arch")
    with pytest.raises(LoweringError, match=r"onnx.checker refuses the model: .*fc.fc1"):
        fc_after.to_onnx()


def test_onnx_is_float32_only(tmp_path, capsys):
    code = cli.main(["build", str(EVERY_KIND), "-o", str(tmp_path / "m.onnx"),
                     "--precision", "mixed_float16"])
    assert code == 2
    assert "the ONNX backend writes float32 models" in capsys.readouterr().err
    with pytest.raises(BuildError, match="Received: --jit"):
        nnc.load(str(EVERY_KIND)).build(str(tmp_path / "m.onnx"), jit=True)


def test_an_onnx_file_that_onnxruntime_refuses_fails_the_build_and_leaves_nothing(
        tmp_path, monkeypatch):
    def refuse(path, providers):
        raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH : an op it cannot run")
    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    with pytest.raises(BuildError, match="does not load in onnxruntime. Received: "
                                         r"\[ONNXRuntimeError\] : 10 : INVALID_GRAPH"):
        nnc.load(str(EVERY_KIND)).build(str(tmp_path / "m.onnx"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, words", [
    (["export", "missing.keras", "-o", "m.onnx"], "there is no model file 'missing.keras'"),
    (["export", "{model}", "-o", "m.txt"], "cannot tell the output format from the suffix"),
    (["export", "{model}", "-o", "m.keras"], "nnc export writes ONNX: name an .onnx file"),
])
def test_export_refuses_what_it_cannot_do(args, words, tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"")
    result = run_nnc(*[a.format(model=model) for a in args], cwd=tmp_path)
    assert result.returncode == 2 and words in result.stderr, result.stderr


@pytest.mark.slow
def test_export_writes_a_trained_models_weights(tmp_path):
    """A model trained one epoch: its ONNX file computes what the trained Keras model
    computes, so the weights went over by name."""
    import keras
    arch = tmp_path / "tiny.arch"
    arch.write_text(TINY)
    trained = tmp_path / "m.keras"
    result = run_nnc("train", str(arch), "--epochs", "1", "-o", str(trained), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    exported = run_nnc("export", str(trained), "-o", str(tmp_path / "m.onnx"))
    assert exported.returncode == 0, exported.stderr[-2000:]
    model = keras.models.load_model(trained)
    x = np.random.default_rng(0).random((4, *model.input.shape[1:]), dtype=np.float32)
    got = run_onnx(onnx.load(str(tmp_path / "m.onnx")), x)[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=0, atol=1e-5)
